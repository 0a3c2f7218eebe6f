package dev.kiln.runtime.cpu;

import java.util.Arrays;

/**
 * CPU kernels for 2-d convolution and max pooling over raw NCHW arrays, in {@link CpuKernels}'
 * conventions: backward kernels take gradients out first, then the incoming gradient, then saved
 * forward values.
 *
 * <p>Convolution is lowered to matrix products. A chunk of {@code cn} samples is unfolded
 * (im2col) into a matrix {@code cols[K, cn * P]}, {@code K = inC * kH * kW} rows (one per weight
 * of a filter) by {@code P = outH * outW} output positions per sample, so that one
 * {@link Blas#sgemm} per chunk does the work:
 *
 * <pre>
 *   forward   Y[outC, cn*P]  = W[outC, K] @ cols
 *   weight    dW[outC, K]   += dY[outC, cn*P] @ cols^T
 *   input     dcols[K, cn*P] = W^T @ dY, folded back onto dx (col2im)
 * </pre>
 *
 * Chunks hold several samples when they are small, so the products stay large enough for the
 * GEMM, but no more than {@link #COLS_BUDGET}, so the columns stay in cache. {@code Y} and {@code dY} are channel-major ({@code [outC, cn*P]}) and are moved to
 * and from NCHW ({@code [cn, outC, P]}) on the way out and in. Both matrices live in per-thread
 * scratch arrays that grow to the largest chunk seen and are then reused. Strided convolutions unfold
 * by gathers through a table of plane indices ({@link #taps}); stride 1 by block and row copies.
 *
 * <p>3x3 convolutions with stride 1 and at least 8 channels in and out (the middle layers of the
 * tutorials' CNNs and of VGG-style nets), in batches large enough, go through {@link Winograd}'s
 * F(2x2, 3x3) instead, which needs 2.25x fewer multiply-adds: 20-45% less time per layer on this
 * machine's CPUs ({@link Winograd#applies} says when).
 */
public final class ConvKernels {
  /**
   * Floats of im2col matrix one chunk may hold (1 MiB): small enough that the columns stay in
   * a core's L2 cache (2 MiB here) between the unfolding, the GEMM and col2im. Measured on the
   * FashionMNIST CNN step: 16 MiB chunks 72-77 ms, 4 MiB 68, 1 MiB 58-59, 768 KiB 58, 512 KiB 59, 256 KiB 63.
   * A single sample may exceed it.
   */
  static final int COLS_BUDGET = 1 << 18;

  static final ThreadLocal<Scratch> SCRATCH = ThreadLocal.withInitial(Scratch::new);

  private ConvKernels() {}

  // ------------------------------------------------------------------ convolution

  /**
   * Cross-correlation as PyTorch's {@code conv2d}: {@code out[n, o, i, j] = bias[o] + sum over c, a, b of
   * x[n, c, i*strideH - padH + a, j*strideW - padW + b] * w[o, c, a, b]}, zero outside the input.
   *
   * @param out {@code [batch, outC, outH, outW]}, overwritten
   * @param x {@code [batch, inC, H, W]}
   * @param w {@code [outC, inC, kH, kW]}
   * @param bias {@code [outC]}, or null for none
   */
  public static void conv2dForward(
      float[] out, int outOff, float[] x, int xOff, float[] w, int wOff, float[] bias, int biasOff, Conv2dShape s) {
    if (!s.plain()) {
      GroupedConv.forward(out, outOff, x, xOff, w, wOff, bias, biasOff, s);
      return;
    }
    if (Winograd.applies(s)) {
      Winograd.forward(out, outOff, x, xOff, w, wOff, bias, biasOff, s);
      return;
    }
    if (FewChannelConv.applies(s)) {
      FewChannelConv.forward(out, outOff, x, xOff, w, wOff, bias, biasOff, s);
      return;
    }
    if (subsampledPointwise(s)) {
      subsampledPointwiseForward(out, outOff, x, xOff, null, w, wOff, bias, biasOff, s, SUBSAMPLED_BUDGET);
      return;
    }
    forwardByProduct(out, outOff, x, xOff, w, wOff, bias, biasOff, s, rowView(s));
  }

  /**
   * Whether {@code s} is a strided 1x1 convolution without padding (ResNet's downsampling shortcut) whose forward runs
   * as the stride-1 pointwise one ({@link #rowView}) over the input's subsampled copy.
   */
  static boolean subsampledPointwise(Conv2dShape s) {
    return POINTWISE_ROWS && s.plain() && s.kernelH() == 1 && s.kernelW() == 1 && (s.strideH() > 1 || s.strideW() > 1)
        && s.padH() == 0 && s.padW() == 0 && Blas.isNative();
  }

  /**
   * A strided 1x1 convolution's forward: each output place reads one input place, so the input's places {@code (oh sH,
   * ow sW)} are copied once into {@code [N, C, outH, outW]} (the thread's columns scratch) and convolved by the stride-1
   * pointwise product ({@link RowConv} over {@code [N, C, 1, outH outW]}), the same sums as im2col's columns (which are
   * that copy, unfolded in Java and copied again into native memory). ResNet's 64 -> 128 shortcut over [16, 64, 32, 32],
   * one thread: 1.6 ms before (docs/benchmarks.md, "Twenty-third session"). Chunks of samples of at most {@code budget}
   * floats of the copy (at least one sample); the copy read through {@code pre} unless it is null.
   */
  static void subsampledPointwiseForward(float[] out, int outOff, float[] x, int xOff, ChannelAffine pre, float[] w, int wOff,
      float[] bias, int biasOff, Conv2dShape s, int budget) {
    int h = s.height(), wd = s.width(), outH = s.outHeight(), outW = s.outWidth(), sh = s.strideH(), sw = s.strideW();
    int inC = s.inChannels(), p = outH * outW;
    int chunk = (int) Math.max(1, Math.min(s.batch(), budget / ((long) inC * p)));
    float[] sub = SCRATCH.get().cols(Math.min(s.batch(), chunk) * inC * p); // RowConv's forward keeps its own buffers
    for (int n0 = 0; n0 < s.batch(); n0 += chunk) {
      int cn = Math.min(chunk, s.batch() - n0), planes = cn * inC, first = n0 * inC;
      Parallel.forRange(planes, (long) planes * p, (part, from, to) -> {
        for (int plane = from; plane < to; plane++) {
          int src = xOff + (first + plane) * h * wd, dst = plane * p;
          for (int oh = 0; oh < outH; oh++, dst += outW) {
            int row = src + oh * sh * wd;
            for (int ow = 0; ow < outW; ow++) {
              sub[dst + ow] = x[row + ow * sw];
            }
          }
          if (pre != null) {
            pre.applyInPlace(sub, plane * p, p, plane % inC);
          }
        }
      });
      Conv2dShape unit = new Conv2dShape(cn, inC, outH, outW, s.outChannels(), 1, 1, 1, 1, 0, 0);
      forwardByProduct(out, outOff + n0 * s.outChannels() * p, sub, 0, w, wOff, bias, biasOff, unit, rowView(unit));
    }
  }

  /** Floats of a chunk's subsampled input in {@link #subsampledPointwiseForward} (4 MiB: ResNet's shortcuts at batch 16 in one). */
  private static final int SUBSAMPLED_BUDGET = 1 << 20;

  /**
   * Whether {@link #conv2dForward(float[], int, float[], int, ChannelAffine, float[], int, float[], int, Conv2dShape)}
   * reads its input through a {@link ChannelAffine} as it copies it, with no pass of its own: the stride-1 and stride-2
   * depthwise kernels and the pointwise (1x1, no padding) products of {@link RowConv} at any stride, the layers a
   * MobileNet-style network has after each batch norm (and a pre-activation ResNet's strided shortcut).
   */
  public static boolean readsThroughAffine(Conv2dShape s) {
    if (!s.plain()) {
      return GroupedConv.readsThroughAffine(s);
    }
    return subsampledPointwise(s) || rowView(s) != null && s.kernelH() == 1 && s.kernelW() == 1 && s.strideH() == 1 && s.strideW() == 1
        && s.padH() == 0 && s.padW() == 0;
  }

  /**
   * {@link #conv2dForward} of the input as {@code pre} maps it (input channel {@code c}'s values {@code v} read as {@code
   * pre}'s map of {@code v}), the same bits as the map written out first and then convolved, for shapes that {@link
   * #readsThroughAffine}.
   *
   * @throws IllegalArgumentException for a shape that does not {@link #readsThroughAffine}
   */
  public static void conv2dForward(float[] out, int outOff, float[] x, int xOff, ChannelAffine pre, float[] w, int wOff,
      float[] bias, int biasOff, Conv2dShape s) {
    if (!readsThroughAffine(s)) {
      throw new IllegalArgumentException("conv2dForward reads its input through a channel map only for depthwise and pointwise"
          + " convolutions, got " + s);
    }
    if (!s.plain()) {
      GroupedConv.depthwiseForward(out, outOff, x, xOff, pre, w, wOff, bias, biasOff, s);
      return;
    }
    if (subsampledPointwise(s)) {
      subsampledPointwiseForward(out, outOff, x, xOff, pre, w, wOff, bias, biasOff, s, SUBSAMPLED_BUDGET);
      return;
    }
    Conv2dShape row = rowView(s);
    RowConv.forward(out, outOff, x, xOff, pre, w, wOff, bias, biasOff, row, chunkSize(row, forwardBudget(s, row)));
  }

  /** Whether 1x1 convolutions with stride 1 and no padding take {@link RowConv} ({@code -Dkiln.pointwiseconv=false}: the Java columns, for comparisons). */
  static final boolean POINTWISE_ROWS = !"false".equals(System.getProperty("kiln.pointwiseconv"));

  /**
   * The one-row shape that {@link RowConv} computes {@code s} as, or null for {@link ConvKernels}' Java columns: {@code
   * s} itself when it is one row (conv1d's view); a 1x1 convolution with stride 1 and no padding (MobileNet's pointwise
   * layers) as the one-row convolution over {@code [N, C, 1, H*W]}, the same sums: a product {@code W[outC, inC] x
   * X[inC, cn*H*W]} per chunk, its columns the input's planes copied once into native memory (no unfolding).
   */
  static Conv2dShape rowView(Conv2dShape s) {
    if (RowConv.applies(s)) {
      return s;
    }
    if (POINTWISE_ROWS && s.plain() && s.kernelH() == 1 && s.kernelW() == 1 && s.strideH() == 1 && s.strideW() == 1
        && s.padH() == 0 && s.padW() == 0 && Blas.isNative()) {
      return new Conv2dShape(s.batch(), s.inChannels(), 1, s.height() * s.width(), s.outChannels(), 1, 1, 1, 1, 0, 0);
    }
    return null;
  }

  /**
   * Floats of native columns a chunk of a pointwise (1x1) convolution's forward products may hold (256 KiB, where the
   * product's output stays in cache for its copy back): its sums do not depend on the chunks (k is the input channels),
   * so it may differ from the weight gradient's {@link #COLS_BUDGET}, whose sums run over the chunk's positions. The
   * 32 -> 64 pointwise forward over [16, 32, 32, 32], one thread, by budget: 1 MiB 1.37 ms, 256 KiB 1.09, 128 KiB 1.04,
   * 64 KiB 1.10, 32 KiB 1.08; 64 -> 128 over [16, 64, 16, 16]: 0.87, 0.73, 0.78, 0.70, 0.71.
   */
  static final int POINTWISE_FORWARD_BUDGET = Integer.getInteger("kiln.pwbudget", 1 << 16);

  /** The columns' budget of a chunk of {@link RowConv#forward} over {@code row}, {@link #rowView}{@code (s)}. */
  private static int forwardBudget(Conv2dShape s, Conv2dShape row) {
    return row == s ? COLS_BUDGET : POINTWISE_FORWARD_BUDGET;
  }

  /**
   * {@link #conv2dForward}'s lowering to products of a plain shape: by {@link RowConv} over {@code row} ({@link
   * #rowView}{@code (s)}), or, with {@code row} null, by im2col into Java columns.
   */
  static void forwardByProduct(float[] out, int outOff, float[] x, int xOff, float[] w, int wOff, float[] bias, int biasOff,
      Conv2dShape s, Conv2dShape row) {
    if (row != null) {
      RowConv.forward(out, outOff, x, xOff, null, w, wOff, bias, biasOff, row, chunkSize(row, forwardBudget(s, row)));
      return;
    }
    int k = s.patchSize();
    int p = s.outPlaneSize();
    int outC = s.outChannels();
    int chunk = chunkSize(s);
    int chunks = (s.batch() + chunk - 1) / chunk;
    int[] taps = taps(s);
    Parallel.forRange(chunks, (long) s.batch() * k * p, (part, from, to) -> {
      Scratch scratch = SCRATCH.get();
      for (int n0 = from * chunk; n0 < Math.min(to * chunk, s.batch()); n0 += chunk) {
        int cn = Math.min(chunk, s.batch() - n0);
        int ld = cn * p;
        float[] cols = scratch.cols(k * ld);
        float[] y = scratch.channelMajor(outC * ld);
        im2col(cols, x, xOff, n0, cn, s, taps, scratch);
        Blas.sgemm(false, false, outC, ld, k, 1f, w, wOff, k, cols, 0, ld, 0f, y, 0, ld);
        fromChannelMajor(out, outOff, y, bias, biasOff, n0, cn, outC, p);
      }
    });
  }

  /**
   * Moves a chunk's channel-major output {@code y[outC, cn * p]} to samples {@code n0 .. n0+cn-1} of the NCHW
   * {@code out}, adding {@code bias} (or none when null).
   */
  static void fromChannelMajor(float[] out, int outOff, float[] y, float[] bias, int biasOff, int n0, int cn, int outC, int p) {
    int ld = cn * p;
    for (int i = 0; i < cn; i++) {
      for (int o = 0; o < outC; o++) {
        int src = o * ld + i * p;
        int dst = outOff + ((n0 + i) * outC + o) * p;
        // a copy, then the bias with one index, which C2 vectorises (out = y + b in one loop over
        // two offsets ran as scalar code: 8% of the ResNet's step). Without a bias the copy alone: adding
        // 0f would change only a -0 to +0, and the products never give -0 (OpenBLAS's and the Java
        // kernel's sums start from +0, and +0 + -0 is +0)
        System.arraycopy(y, src, out, dst, p);
        if (bias != null) {
          float b = bias[biasOff + o];
          for (int j = dst; j < dst + p; j++) {
            out[j] += b;
          }
        }
      }
    }
  }

  /**
   * Moves samples {@code n0 .. n0+cn-1} of the NCHW gradient {@code dout} into the channel-major {@code dy[outC, cn * p]}
   * and adds each channel's sum to {@code dbPart} (when not null).
   */
  static void toChannelMajor(float[] dy, float[] dout, int doutOff, float[] dbPart, int n0, int cn, int outC, int p) {
    int ld = cn * p;
    for (int i = 0; i < cn; i++) {
      for (int o = 0; o < outC; o++) {
        System.arraycopy(dout, doutOff + ((n0 + i) * outC + o) * p, dy, o * ld + i * p, p);
      }
    }
    if (dbPart != null) {
      for (int o = 0; o < outC; o++) {
        dbPart[o] += (float) NormKernels.sum(dy, o * ld, ld);
      }
    }
  }

  /**
   * Gradients of {@link #conv2dForward}; a null gradient array is skipped. {@code dx} is always
   * overwritten; {@code dw} and {@code dbias} are overwritten, or added to when {@code accumulate}.
   * Chunks of samples are shared among {@link Parallel}'s threads; each part sums its chunks'
   * weight and bias gradients on its own, and the parts' sums are added in part order.
   *
   * @param dx {@code [batch, inC, H, W]}, or null
   * @param dw {@code [outC, inC, kH, kW]}, or null
   * @param dbias {@code [outC]}, or null
   * @param dout gradient of the output, {@code [batch, outC, outH, outW]}
   * @param x the forward input, {@code [batch, inC, H, W]} (read only when {@code dw} is wanted)
   * @param w the weight, {@code [outC, inC, kH, kW]} (read only when {@code dx} is wanted)
   */
  public static void conv2dBackward(
      float[] dx, int dxOff, float[] dw, int dwOff, float[] dbias, int dbOff, boolean accumulate,
      float[] dout, int doutOff, float[] x, int xOff, float[] w, int wOff, Conv2dShape s) {
    if (!s.plain()) {
      GroupedConv.backward(dx, dxOff, dw, dwOff, dbias, dbOff, accumulate, dout, doutOff, x, xOff, w, wOff, s);
      return;
    }
    if (Winograd.appliesToBackward(s, dx != null)) {
      Winograd.backward(dx, dxOff, dw, dwOff, dbias, dbOff, accumulate, dout, doutOff, x, xOff, w, wOff, s);
      return;
    }
    if (dw != null && FewChannelConv.applies(s)) {
      FewChannelConv.weightGradient(dw, dwOff, dbias, dbOff, accumulate, dout, doutOff, x, xOff, s);
      if (dx != null) { // the input gradient alone, by im2col
        conv2dBackward(dx, dxOff, null, 0, null, 0, accumulate, dout, doutOff, x, xOff, w, wOff, s);
      }
      return;
    }
    backwardByProduct(dx, dxOff, dw, dwOff, dbias, dbOff, accumulate, dout, doutOff, x, xOff, w, wOff, s, rowView(s));
  }

  /** {@link #conv2dBackward} by products, as {@link #forwardByProduct}: over {@link RowConv}'s {@code row}, or Java columns where it is null. */
  static void backwardByProduct(
      float[] dx, int dxOff, float[] dw, int dwOff, float[] dbias, int dbOff, boolean accumulate,
      float[] dout, int doutOff, float[] x, int xOff, float[] w, int wOff, Conv2dShape s, Conv2dShape row) {
    int k = s.patchSize();
    int p = s.outPlaneSize();
    int outC = s.outChannels();
    int chunk = chunkSize(s);
    int chunks = (s.batch() + chunk - 1) / chunk;
    int parts = Math.min(Parallel.threads(), chunks);
    Scratch callers = SCRATCH.get();
    float[][] dwParts = dw == null ? null : callers.partials(0, parts, outC * k);
    float[][] dbParts = dbias == null ? null : callers.partials(1, parts, outC);
    if (row != null) { // the weight's columns in native memory (RowConv; the same chunks: row's chunkSize is s's)
      if (dw != null || dbias != null) {
        RowConv.weightGradient(dwParts, dbParts, dout, doutOff, x, xOff, row, chunk);
      }
      if (dx != null && !RowConv.inputGradient(dx, dxOff, dout, doutOff, w, wOff, row, forwardBudget(s, row))) {
        backwardByColumns(dx, dxOff, null, null, dout, doutOff, x, xOff, w, wOff, s, chunk);
      }
    } else {
      backwardByColumns(dx, dxOff, dwParts, dbParts, dout, doutOff, x, xOff, w, wOff, s, chunk);
    }
    if (dw != null) {
      addParts(dw, dwOff, dwParts, parts, outC * k, accumulate);
    }
    if (dbias != null) {
      addParts(dbias, dbOff, dbParts, parts, outC, accumulate);
    }
  }

  /** {@link #conv2dBackward}'s chunks by im2col and col2im in Java arrays, into the per-part sums {@code dwParts} and {@code dbParts}. */
  private static void backwardByColumns(float[] dx, int dxOff, float[][] dwParts, float[][] dbParts, float[] dout, int doutOff,
      float[] x, int xOff, float[] w, int wOff, Conv2dShape s, int chunk) {
    int k = s.patchSize();
    int p = s.outPlaneSize();
    int outC = s.outChannels();
    int chunks = (s.batch() + chunk - 1) / chunk;
    int[] taps = taps(s);
    Parallel.forRange(chunks, (long) s.batch() * k * p, (part, from, to) -> {
      Scratch scratch = SCRATCH.get();
      float[] dwPart = dwParts == null ? null : dwParts[part];
      float[] dbPart = dbParts == null ? null : dbParts[part];
      for (int n0 = from * chunk; n0 < Math.min(to * chunk, s.batch()); n0 += chunk) {
        int cn = Math.min(chunk, s.batch() - n0);
        int ld = cn * p;
        float[] dy = scratch.channelMajor(outC * ld);
        toChannelMajor(dy, dout, doutOff, dbPart, n0, cn, outC, p);
        float[] cols = scratch.cols(k * ld);
        if (dwPart != null) {
          im2col(cols, x, xOff, n0, cn, s, taps, scratch);
          Blas.sgemm(false, true, outC, k, ld, 1f, dy, 0, ld, cols, 0, ld, 1f, dwPart, 0, k);
        }
        if (dx != null) {
          Blas.sgemm(true, false, k, ld, outC, 1f, w, wOff, k, dy, 0, ld, 0f, cols, 0, ld);
          col2im(dx, dxOff, cols, n0, cn, s, taps, scratch);
        }
      }
    });
  }

  /** {@code into = (accumulate ? into : 0) + parts[0] + ... + parts[count - 1]}, in that order. */
  static void addParts(float[] into, int off, float[][] parts, int count, int len, boolean accumulate) {
    if (!accumulate) {
      Arrays.fill(into, off, off + len, 0f);
    }
    for (int i = 0; i < count; i++) {
      CpuKernels.accumulate(into, off, parts[i], 0, len);
    }
  }

  /**
   * {@link #maxPool2dForward} for the tutorials' 2x2 windows with stride 2 when every window lies
   * inside the input: the four values of a window are read once and the result written once
   * (the general loop reads and writes each output once per window element). Same tie and NaN
   * rules: the first maximum in row-major window order wins, NaN propagates to the value.
   */
  private static void maxPool2x2(float[] out, int outOff, int[] argmax, float[] x, int xOff, Pool2dShape s, int plLo, int plHi) {
    int h = s.height(), wd = s.width(), outH = s.outHeight(), outW = s.outWidth();
    for (int pl = plLo, o = plLo * outH * outW; pl < plHi; pl++) {
      int plane = xOff + pl * h * wd;
      for (int oh = 0; oh < outH; oh++, o += outW) {
        int top = 2 * oh * wd;
        int bottom = top + wd;
        for (int ow = 0; ow < outW; ow++) {
          int i0 = top + 2 * ow, i1 = i0 + 1, i2 = bottom + 2 * ow, i3 = i2 + 1;
          float v0 = x[plane + i0], v1 = x[plane + i1], v2 = x[plane + i2], v3 = x[plane + i3];
          out[outOff + o + ow] = max4(v0, v1, v2, v3);
          argmax[o + ow] = argmax4(v0, v1, v2, v3, i0, i1, i2, i3);
        }
      }
    }
  }

  /**
   * The plain 2x2 pooling of one plane {@code y} (from index 0, rows of {@code wd}) of values that are not negative and not -0 (a ReLU's),
   * into {@code out[outOff + o ..]} and {@code argmax[o ..]}, with {@link #max4} and {@link #argmaxOfNonNegative}'s
   * results bit for bit.
   *
   * <p>Such values' raw bits order them as their values do. Each becomes a key, its bits doubled (the sign bit
   * dropped; flipped, so that signed order is the bits' order) and the top row's keys one more, so that a
   * window's first maximum is the larger of its two columns' larger keys, the left one on a tie, and the key
   * gives the value back. A pair of rows first becomes its columns' keys, then each window takes one integer
   * maximum and one comparison: no branch on the data and no float comparison. A NaN's key, whatever its sign,
   * exceeds infinity's: such a window (a branch never taken but for NaNs) is pooled as the two methods do.
   */
  static void maxPool2x2OfNonNegative(float[] out, int outOff, int[] argmax, int o, float[] y, int wd, int outH, int outW) {
    int[] key = SCRATCH.get().keys(2 * outW);
    for (int oh = 0; oh < outH; oh++, o += outW) {
      int top = 2 * oh * wd, bottom = top + wd;
      for (int j = 0; j < 2 * outW; j++) {
        int t = Float.floatToRawIntBits(y[top + j]), b = Float.floatToRawIntBits(y[bottom + j]);
        key[j] = Math.max(((t << 1) ^ Integer.MIN_VALUE) | 1, (b << 1) ^ Integer.MIN_VALUE);
      }
      for (int ow = 0; ow < outW; ow++) {
        int left = key[2 * ow];
        int right = key[2 * ow + 1];
        int best = Math.max(left, right);
        int i0 = top + 2 * ow;
        if (best > INFINITY_KEY) { // a NaN
          float v0 = y[i0], v1 = y[i0 + 1], v2 = y[i0 + wd], v3 = y[i0 + wd + 1];
          out[outOff + o + ow] = max4(v0, v1, v2, v3);
          argmax[o + ow] = argmaxOfNonNegative(v0, v1, v2, v3, i0, i0 + 1, i0 + wd, i0 + wd + 1);
          continue;
        }
        int toRight = (int) (((long) left - right) >>> 63); // 1 when right > left
        out[outOff + o + ow] = Float.intBitsToFloat((best ^ Integer.MIN_VALUE) >>> 1);
        argmax[o + ow] = i0 + toRight + (wd & ((best & 1) - 1)); // a bottom key is even
      }
    }
  }

  /** {@link #maxPool2x2OfNonNegative}'s key of infinity in the top row: any NaN's is larger. */
  private static final int INFINITY_KEY = ((Float.floatToRawIntBits(Float.POSITIVE_INFINITY) << 1) ^ Integer.MIN_VALUE) | 1;

  /** The largest of a 2x2 window's values in row-major order; NaN if any is NaN. */
  static float max4(float v0, float v1, float v2, float v3) {
    return Math.max(Math.max(Math.max(v0, v1), v2), v3);
  }

  /**
   * The index of a 2x2 window's first maximum in row-major order, as compare-and-selects (they
   * compile to conditional moves: which element wins is unpredictable). With a NaN it is the
   * largest value before the first NaN, as {@link #maxPool2dForward} documents.
   */
  static int argmax4(float v0, float v1, float v2, float v3, int i0, int i1, int i2, int i3) {
    int best = i0;
    float max = v0;
    best = v1 > max ? i1 : best;
    max = Math.max(max, v1);
    best = v2 > max ? i2 : best;
    max = Math.max(max, v2);
    return v3 > max ? i3 : best;
  }

  /**
   * {@link #argmax4} for values that are not negative (a ReLU's): their raw bits order
   * them as their values do, so the comparisons and selects are integer arithmetic and no branch
   * depends on the data. The float version's selects compiled to branches, which mispredict on
   * real images, where ties between zeros are common (measured on the first block: 5.1 ms with
   * images' flat backgrounds against 2.9 ms on noise; this form does not care). Ties keep the
   * first index; a NaN counts as the largest value, so argmax names the first NaN of its window.
   */
  static int argmaxOfNonNegative(float v0, float v1, float v2, float v3, int i0, int i1, int i2, int i3) {
    int max = Float.floatToRawIntBits(v0);
    int best = i0;
    int r = Float.floatToRawIntBits(v1);
    int take = (max - r) >> 31; // -1 when r > max: both are at most 0x7fc00000, so the difference cannot overflow
    best = (i1 & take) | (best & ~take);
    max = Math.max(max, r);
    r = Float.floatToRawIntBits(v2);
    take = (max - r) >> 31;
    best = (i2 & take) | (best & ~take);
    max = Math.max(max, r);
    r = Float.floatToRawIntBits(v3);
    take = (max - r) >> 31;
    return (i3 & take) | (best & ~take);
  }

  /**
   * Samples per chunk: as many as fit {@link #COLS_BUDGET} (at least one), evened out so that the
   * chunks split over {@link Parallel}'s threads in equal shares (two chunks of 32 rather than 37
   * and 27).
   */
  static int chunkSize(Conv2dShape s) {
    return chunkSize(s, COLS_BUDGET);
  }

  /** {@link #chunkSize(Conv2dShape)} with {@code budget} floats of columns. */
  static int chunkSize(Conv2dShape s, int budget) {
    return chunkSize(s.batch(), (long) s.patchSize() * s.outPlaneSize(), budget);
  }

  /**
   * Samples per chunk when one sample needs {@code perSample} floats of scratch and a chunk may hold
   * {@code budget}: as many as fit (at least one), with the number of chunks rounded up to a
   * multiple of the threads so that each gets as many; 1 for an empty batch (no chunks).
   */
  static int chunkSize(int batch, long perSample, int budget) {
    if (batch == 0) {
      return 1; // no chunks: an empty batch computes nothing (the weight gradient is then zero)
    }
    int fit = (int) Math.max(1, Math.min(batch, budget / perSample));
    int chunks = (batch + fit - 1) / fit;
    int threads = Parallel.threads();
    chunks = Math.min(batch, (chunks + threads - 1) / threads * threads);
    return Math.max(1, (batch + chunks - 1) / chunks);
  }

  /**
   * Unfolds samples {@code n0 .. n0+cn-1} of {@code x} into {@code cols[K, cn*P]}: row
   * {@code (c, a, b)}, column {@code (i, oh, ow)} holds {@code x[n0+i, c, oh*sH - pH + a, ow*sW - pW + b]},
   * or 0 in the padding. {@code taps} is {@link #taps}{@code (s)}, built once a call.
   */
  static void im2col(float[] cols, float[] x, int xOff, int n0, int cn, Conv2dShape s, int[] taps, Scratch scratch) {
    if (s.strideH() == 1 && s.strideW() == 1 && s.outWidth() == s.width()) {
      im2colSameWidth(cols, x, xOff, n0, cn, s);
      return;
    }
    if (taps != null) {
      im2colByTaps(cols, x, xOff, n0, cn, s, taps, scratch);
      return;
    }
    GroupedConv.im2col(cols, x, xOff, n0, cn, s, 0); // the row loops, one group
  }

  /**
   * Largest tap table ({@code kH * kW * P} ints, 4 MiB) {@link #taps} builds; larger windows or maps keep
   * {@link #im2col}'s row loops.
   */
  private static final int MAX_TAPS = 1 << 20;

  /**
   * The gather table of a strided convolution's {@link #im2colByTaps} and {@link #col2imByTaps}, or null where
   * those do not apply (stride 1, whose row loops copy whole rows with {@code System.arraycopy}; or more than
   * {@link #MAX_TAPS} entries): entry {@code (a * kW + b) * P + oh * outW + ow} is the index, in the sample's
   * input plane {@link #tapPlane} lays out, that output position {@code (oh, ow)} reads under kernel offset
   * {@code (a, b)}. It depends on the shape only, so one table serves every channel and sample of a call.
   */
  static int[] taps(Conv2dShape s) {
    if (s.strideH() == 1 && s.strideW() == 1 || (long) s.kernelH() * s.kernelW() * s.outPlaneSize() > MAX_TAPS) {
      return null;
    }
    int outH = s.outHeight(), outW = s.outWidth(), p = outH * outW;
    int width = tapPlaneWidth(s);
    int[] taps = new int[s.kernelH() * s.kernelW() * p];
    for (int a = 0, t = 0; a < s.kernelH(); a++) {
      for (int b = 0; b < s.kernelW(); b++) {
        for (int oh = 0; oh < outH; oh++) {
          for (int ow = 0; ow < outW; ow++) {
            taps[t++] = (oh * s.strideH() + a) * width + ow * s.strideW() + b;
          }
        }
      }
    }
    return taps;
  }

  /**
   * Whether {@link #taps} index the input planes themselves (no padding: every window lies inside the input)
   * rather than zero-padded copies of them.
   */
  private static boolean tapsReadInput(Conv2dShape s) {
    return s.padH() == 0 && s.padW() == 0;
  }

  /**
   * Width of the plane the taps index: the input's without padding, else the padded plane that covers every
   * window, {@code (outW - 1) * strideW + kW} wide (its rows and columns past the input's are zeros).
   */
  private static int tapPlaneWidth(Conv2dShape s) {
    return tapsReadInput(s) ? s.width() : (s.outWidth() - 1) * s.strideW() + s.kernelW();
  }

  /** Floats of the padded plane {@link #tapPlaneWidth} describes. */
  private static int tapPlaneSize(Conv2dShape s) {
    return ((s.outHeight() - 1) * s.strideH() + s.kernelH()) * tapPlaneWidth(s);
  }

  /**
   * Copies the part of input plane {@code x[src ..]} that the windows reach into the padded plane {@code plane}
   * (whose borders the caller keeps zero); with {@code toInput}, the other way, from the plane back to the input.
   */
  private static void tapPlane(float[] plane, float[] x, int src, Conv2dShape s, boolean toInput) {
    int width = tapPlaneWidth(s), height = tapPlaneSize(s) / width;
    int rows = Math.max(0, Math.min(s.height(), height - s.padH()));
    int cols = Math.max(0, Math.min(s.width(), width - s.padW()));
    for (int r = 0; r < rows; r++) {
      int at = (r + s.padH()) * width + s.padW();
      if (toInput) {
        System.arraycopy(plane, at, x, src + r * s.width(), cols);
      } else {
        System.arraycopy(x, src + r * s.width(), plane, at, cols);
      }
    }
  }

  /**
   * {@link #im2col} for strided convolutions: each input plane is copied once into a zero-padded plane that
   * covers every window (or read in place when there is no padding), and every row of {@code cols} is then a
   * gather through {@link #taps}, without per-row bounds or padding branches (the row loops spent some 7 ns on
   * each 7-value row of a stride-2 convolution on a 14x14 map). The same values as the row loops: a copy.
   */
  private static void im2colByTaps(float[] cols, float[] x, int xOff, int n0, int cn, Conv2dShape s, int[] taps,
      Scratch scratch) {
    int p = s.outPlaneSize(), ld = cn * p, kk = s.kernelH() * s.kernelW(), inC = s.inChannels();
    int planeSize = s.height() * s.width();
    boolean direct = tapsReadInput(s);
    float[] plane = direct ? x : scratch.plane(tapPlaneSize(s));
    if (!direct) {
      Arrays.fill(plane, 0, tapPlaneSize(s), 0f); // the borders; each channel overwrites the same inner rectangle
    }
    for (int i = 0; i < cn; i++) {
      for (int c = 0; c < inC; c++) {
        int src = xOff + ((n0 + i) * inC + c) * planeSize;
        int base = src;
        if (!direct) {
          tapPlane(plane, x, src, s, false);
          base = 0;
        }
        for (int t = 0; t < kk; t++) {
          gather(cols, (c * kk + t) * ld + i * p, plane, base, taps, t * p, p);
        }
      }
    }
  }

  /** {@code to[at + j] = from[base + taps[tapsOff + j]]} for {@code j < n}. */
  private static void gather(float[] to, int at, float[] from, int base, int[] taps, int tapsOff, int n) {
    for (int j = 0; j < n; j++) {
      to[at + j] = from[base + taps[tapsOff + j]];
    }
  }

  /**
   * {@link #col2im} for the shapes {@link #im2colByTaps} unfolds: per input plane, the columns are added onto a
   * zeroed padded plane (or onto {@code dx}, zeroed by the caller, when there is no padding) through the taps,
   * kernel offset by kernel offset, and its inner rectangle is then copied to {@code dx}. Each input element
   * receives its terms in the row loops' order (by kernel offset, starting from zero), so the same sums.
   */
  private static void col2imByTaps(float[] dx, int dxOff, float[] cols, int n0, int cn, Conv2dShape s, int[] taps,
      Scratch scratch) {
    int p = s.outPlaneSize(), ld = cn * p, kk = s.kernelH() * s.kernelW(), inC = s.inChannels();
    int planeSize = s.height() * s.width();
    boolean direct = tapsReadInput(s);
    int padded = tapPlaneSize(s);
    float[] plane = direct ? dx : scratch.plane(padded);
    for (int i = 0; i < cn; i++) {
      for (int c = 0; c < inC; c++) {
        int dst = dxOff + ((n0 + i) * inC + c) * planeSize;
        int base = dst;
        if (!direct) {
          Arrays.fill(plane, 0, padded, 0f);
          base = 0;
        }
        for (int t = 0; t < kk; t++) {
          scatterAdd(plane, base, cols, (c * kk + t) * ld + i * p, taps, t * p, p);
        }
        if (!direct) {
          tapPlane(plane, dx, dst, s, true);
        }
      }
    }
  }

  /** {@code to[base + taps[tapsOff + j]] += from[at + j]} for {@code j < n}. */
  private static void scatterAdd(float[] to, int base, float[] from, int at, int[] taps, int tapsOff, int n) {
    for (int j = 0; j < n; j++) {
      to[base + taps[tapsOff + j]] += from[at + j];
    }
  }

  /**
   * {@link #im2col} for stride 1 when the output is as wide as the input ("same" padding, the
   * tutorials' 3x3 convolutions with padding 1). For a kernel offset {@code (a, b)} the valid
   * output rows read consecutive input rows shifted by {@code b - padW}, so they are copied as
   * ONE block; the {@code |shift|} columns per row that the block copy takes from the
   * neighbouring row are then zeroed. This replaces a copy and two fills per output row.
   */
  private static void im2colSameWidth(float[] cols, float[] x, int xOff, int n0, int cn, Conv2dShape s) {
    int h = s.height(), wd = s.width(), outH = s.outHeight(), outW = s.outWidth();
    int ph = s.padH(), pw = s.padW();
    int p = outH * outW;
    int ld = cn * p;
    for (int i = 0; i < cn; i++) {
      int sample = xOff + (n0 + i) * s.inputSampleSize();
      int row = 0;
      for (int c = 0; c < s.inChannels(); c++) {
        int plane = sample + c * h * wd;
        for (int a = 0; a < s.kernelH(); a++) {
          int ohLo = Math.max(0, ph - a), ohHi = Math.min(outH, h + ph - a);
          for (int b = 0; b < s.kernelW(); b++, row++) {
            int dst0 = row * ld + i * p;
            if (ohHi <= ohLo) {
              zero(cols, dst0, dst0 + p);
              continue;
            }
            zero(cols, dst0, dst0 + ohLo * outW);
            zero(cols, dst0 + ohHi * outW, dst0 + p);
            int shift = b - pw;
            int dst = dst0 + ohLo * outW;
            int src = plane + (ohLo - ph + a) * wd + shift;
            int len = (ohHi - ohLo) * outW;
            if (Math.abs(shift) >= outW) { // padding wider than the map: this kernel column reads only padding
              zero(cols, dst, dst + len);
            } else if (shift >= 0) {
              System.arraycopy(x, src, cols, dst, len - shift);
              zeroColumns(cols, dst + outW - shift, dst + len, outW, shift);
            } else {
              System.arraycopy(x, src - shift, cols, dst - shift, len + shift);
              zeroColumns(cols, dst, dst + len, outW, -shift);
            }
          }
        }
      }
    }
  }

  /**
   * Zeroes {@code count} consecutive entries starting at {@code first}, {@code first + stride},
   * ... while below {@code end}: the columns of a block that wrapped into a neighbouring row.
   * The common single column is a plain strided store (a call per row was 10% of a CNN step).
   */
  private static void zeroColumns(float[] a, int first, int end, int stride, int count) {
    if (count == 0) {
      return;
    }
    if (count == 1) {
      for (int r = first; r < end; r += stride) {
        a[r] = 0f;
      }
      return;
    }
    for (int r = first; r < end; r += stride) {
      for (int j = r, e = Math.min(r + count, end); j < e; j++) {
        a[j] = 0f;
      }
    }
  }

  /** Zeroes {@code a[from, to)}: a plain loop, cheaper than {@code Arrays.fill} for the 0-2 padding columns of a row. */
  static void zero(float[] a, int from, int to) {
    for (int i = from; i < to; i++) {
      a[i] = 0f;
    }
  }

  /**
   * The adjoint of {@link #im2col}: overwrites samples {@code n0 .. n0+cn-1} of {@code dx} with
   * the sum of the {@code cols} entries that were read from each input element.
   */
  static void col2im(float[] dx, int dxOff, float[] cols, int n0, int cn, Conv2dShape s, int[] taps, Scratch scratch) {
    int sampleSize = s.inputSampleSize();
    Arrays.fill(dx, dxOff + n0 * sampleSize, dxOff + (n0 + cn) * sampleSize, 0f);
    if (s.strideH() == 1 && s.strideW() == 1 && s.outWidth() == s.width()) {
      col2imSameWidth(dx, dxOff, cols, n0, cn, s);
      return;
    }
    if (taps != null) {
      col2imByTaps(dx, dxOff, cols, n0, cn, s, taps, scratch);
      return;
    }
    GroupedConv.col2imAdd(dx, dxOff, cols, n0, cn, s, 0); // the row loops, one group
  }

  /**
   * {@link #col2im} for the shapes {@link #im2colSameWidth} handles, with the same block
   * structure: per kernel offset, the entries that the forward zeroed (the columns that wrapped
   * into a neighbouring row) are zeroed in {@code cols} too, and the block is then added onto
   * {@code dx} in one loop. Adding those zeros keeps the sums exact. Overwrites those entries
   * of {@code cols}, which is scratch.
   */
  private static void col2imSameWidth(float[] dx, int dxOff, float[] cols, int n0, int cn, Conv2dShape s) {
    int h = s.height(), wd = s.width(), outH = s.outHeight(), outW = s.outWidth();
    int ph = s.padH(), pw = s.padW();
    int p = outH * outW;
    int ld = cn * p;
    for (int i = 0; i < cn; i++) {
      int sample = dxOff + (n0 + i) * s.inputSampleSize();
      int row = 0;
      for (int c = 0; c < s.inChannels(); c++) {
        int plane = sample + c * h * wd;
        for (int a = 0; a < s.kernelH(); a++) {
          int ohLo = Math.max(0, ph - a), ohHi = Math.min(outH, h + ph - a);
          for (int b = 0; b < s.kernelW(); b++, row++) {
            int shift = b - pw;
            if (ohHi <= ohLo || Math.abs(shift) >= outW) { // only padding under this kernel offset
              continue;
            }
            int src = row * ld + i * p + ohLo * outW;
            int dst = plane + (ohLo - ph + a) * wd + shift;
            int len = (ohHi - ohLo) * outW;
            if (shift >= 0) {
              zeroColumns(cols, src + outW - shift, src + len, outW, shift);
              addBlock(dx, dst, cols, src, len - shift);
            } else {
              zeroColumns(cols, src, src + len, outW, -shift);
              addBlock(dx, dst - shift, cols, src - shift, len + shift);
            }
          }
        }
      }
    }
  }

  private static void addBlock(float[] dst, int dstOff, float[] src, int srcOff, int len) {
    for (int j = 0; j < len; j++) {
      dst[dstOff + j] += src[srcOff + j];
    }
  }

  /** The first output column {@code ow} whose input column {@code ow*stride - pad + b} is {@code >= 0}, capped at {@code outW}. */
  static int firstInside(int b, int stride, int pad, int outW) {
    return Math.min(outW, Math.max(0, Math.floorDiv(pad - b + stride - 1, stride)));
  }

  /** One past the last output column whose input column {@code ow*stride - pad + b} is {@code < width}. */
  static int endInside(int b, int stride, int pad, int width, int outW) {
    return Math.min(outW, Math.max(0, Math.floorDiv(width - 1 + pad - b, stride) + 1));
  }

  // ------------------------------------------------------------------ transposed convolution

  /**
   * PyTorch's {@code conv_transpose2d}: the input gradient of the convolution {@code s}, which maps
   * this output back to x, for an output gradient x; plus the bias per output channel. Its groups
   * and dilation are {@code s}'s (a grouped or dilated {@code s} goes to {@link GroupedConv} as the
   * convolution's backward does).
   *
   * @param out {@code [batch, s.inChannels(), s.height(), s.width()]}, overwritten
   * @param x {@code [batch, s.outChannels(), s.outH(), s.outW()]}
   * @param w {@code [s.outChannels(), s.inChannels() / groups, kH, kW]}: the transposed convolution's {@code [in, out / groups, kH, kW]}
   * @param bias {@code [s.inChannels()]}, or null for none
   */
  public static void convTranspose2dForward(
      float[] out, int outOff, float[] x, int xOff, float[] w, int wOff, float[] bias, int biasOff, Conv2dShape s) {
    conv2dBackward(out, outOff, null, 0, null, 0, false, x, xOff, null, 0, w, wOff, s);
    if (bias != null) { // per channel, in place: each sample's [C, H*W] plus the bias repeated along its planes
      int channels = s.inChannels(), plane = s.height() * s.width();
      for (int n = 0; n < s.batch(); n++) {
        int at = outOff + n * channels * plane;
        CpuKernels.addRepeatedForward(out, at, out, at, bias, biasOff, channels, plane, 1, false);
      }
    }
  }

  /**
   * Gradients of {@link #convTranspose2dForward}; a null gradient array is skipped. {@code dx} is
   * overwritten (the convolution {@code s} of the output's gradient); {@code dw} (the
   * convolution's weight gradient for input {@code dout} and output gradient x) and {@code dbias}
   * (each channel's sum over its planes, in double) are overwritten, or added to when {@code accumulate}.
   *
   * @param dx {@code [batch, s.outChannels(), s.outH(), s.outW()]}, or null
   * @param dout the output's gradient, {@code [batch, s.inChannels(), s.height(), s.width()]}
   * @param x the forward input (read only when {@code dw} is wanted)
   * @param w the weight (read only when {@code dx} is wanted)
   */
  public static void convTranspose2dBackward(
      float[] dx, int dxOff, float[] dw, int dwOff, float[] dbias, int dbOff, boolean accumulate,
      float[] dout, int doutOff, float[] x, int xOff, float[] w, int wOff, Conv2dShape s) {
    if (dx != null) {
      conv2dForward(dx, dxOff, dout, doutOff, w, wOff, null, 0, s);
    }
    if (dw != null) {
      conv2dBackward(null, 0, dw, dwOff, null, 0, accumulate, x, xOff, dout, doutOff, null, 0, s); // x is the convolution's output gradient
    }
    if (dbias != null) {
      int channels = s.inChannels(), plane = s.height() * s.width();
      for (int n = 0; n < s.batch(); n++) {
        CpuKernels.sumRepeatedBackward(dbias, dbOff, dout, doutOff + n * channels * plane, null, 0, null, 0, channels, plane, 1,
            accumulate || n > 0);
      }
    }
  }

  // ------------------------------------------------------------------ nearest upsampling

  /**
   * Nearest-neighbour upsampling by whole factors: each of {@code planes} planes of {@code h x w}
   * values becomes {@code h sh x w sw}, each value repeated over its block. Planes are shared among the cores.
   */
  public static void upsampleNearestForward(float[] out, int outOff, float[] x, int xOff, int planes, int h, int w, int sh, int sw) {
    int ow = w * sw, plane = h * w, outPlane = plane * sh * sw;
    Parallel.forRange(planes, 2L * planes * outPlane, (part, from, to) -> {
      for (int c = from; c < to; c++) {
        for (int i = 0; i < h; i++) {
          int row = outOff + c * outPlane + i * sh * ow;
          int src = xOff + c * plane + i * w;
          for (int j = 0; j < w; j++) {
            float v = x[src + j];
            for (int b = 0; b < sw; b++) {
              out[row + j * sw + b] = v;
            }
          }
          for (int r = 1; r < sh; r++) { // the block's other rows copy its first
            System.arraycopy(out, row, out, row + r * ow, ow);
          }
        }
      }
    });
  }

  /** Gradient of {@link #upsampleNearestForward}: each value's block of the output gradient summed (in double), {@code dx} overwritten. */
  public static void upsampleNearestBackward(float[] dx, int dxOff, float[] dout, int doutOff, int planes, int h, int w, int sh, int sw) {
    int ow = w * sw, plane = h * w, outPlane = plane * sh * sw;
    Parallel.forRange(planes, 2L * planes * outPlane, (part, from, to) -> {
      for (int c = from; c < to; c++) {
        for (int i = 0; i < h; i++) {
          for (int j = 0; j < w; j++) {
            double sum = 0;
            for (int r = 0; r < sh; r++) {
              int at = doutOff + c * outPlane + (i * sh + r) * ow + j * sw;
              for (int b = 0; b < sw; b++) {
                sum += dout[at + b];
              }
            }
            dx[dxOff + c * plane + i * w + j] = (float) sum;
          }
        }
      }
    });
  }

  // ------------------------------------------------------------------ max pooling

  /**
   * Max pooling as PyTorch's {@code max_pool2d}: each output is the maximum of its window, with
   * padding counting as minus infinity, and the first maximum in row-major order is the one
   * recorded for the backward. A NaN in a window makes the output NaN, as in PyTorch; unlike
   * PyTorch, the recorded element is then the largest one before the first NaN (the NaN itself
   * when it comes first).
   *
   * <p>Each output row is built up one input row and kernel column at a time, so the inner loop
   * runs along the row; its compare-and-select compiles to conditional moves, which matters
   * because which element is largest is unpredictable.
   *
   * @param out {@code [batch, channels, outH, outW]}, overwritten
   * @param argmax one entry per output element (from index 0): the flat index {@code ih * W + iw}
   *     of the maximum within its input plane; or null where no backward will read it (no grad mode, an input
   *     that needs no gradient): the values alone, bit for bit the same
   * @param x {@code [batch, channels, H, W]}
   */
  public static void maxPool2dForward(float[] out, int outOff, int[] argmax, float[] x, int xOff, Pool2dShape s) {
    int planes = s.batch() * s.channels();
    boolean twoByTwo = isPlainTwoByTwo(s);
    Parallel.forRange(planes, (long) planes * s.height() * s.width(), (part, from, to) -> {
      if (argmax == null) {
        maxPoolValues(out, outOff, x, xOff, s, from, to, twoByTwo);
      } else if (twoByTwo) {
        maxPool2x2(out, outOff, argmax, x, xOff, s, from, to);
      } else {
        maxPool(out, outOff, argmax, x, xOff, s, from, to);
      }
    });
  }

  /** Whether the pooling is the tutorials' plain one: 2x2 windows at stride 2, no padding, every window inside the input. */
  public static boolean isPlainTwoByTwo(Pool2dShape s) {
    return s.kernelH() == 2 && s.kernelW() == 2 && s.strideH() == 2 && s.strideW() == 2 && s.padH() == 0 && s.padW() == 0
        && 2 * s.outHeight() <= s.height() && 2 * s.outWidth() <= s.width();
  }

  /** {@link #maxPool2dForward} over planes {@code [plLo, plHi)}, any window. */
  private static void maxPool(float[] out, int outOff, int[] argmax, float[] x, int xOff, Pool2dShape s, int plLo, int plHi) {
    int h = s.height(), wd = s.width(), outH = s.outHeight(), outW = s.outWidth();
    int sh = s.strideH(), sw = s.strideW(), ph = s.padH(), pw = s.padW();
    for (int pl = plLo, o = plLo * outH * outW; pl < plHi; pl++) {
      int plane = xOff + pl * h * wd;
      for (int oh = 0; oh < outH; oh++, o += outW) {
        int hLo = Math.max(oh * sh - ph, 0), hHi = Math.min(oh * sh - ph + s.kernelH(), h);
        for (int ow = 0; ow < outW; ow++) {
          out[outOff + o + ow] = Float.NEGATIVE_INFINITY;
          argmax[o + ow] = hLo * wd + Math.max(ow * sw - pw, 0);
        }
        for (int ih = hLo; ih < hHi; ih++) {
          for (int b = 0; b < s.kernelW(); b++) {
            int atZero = ih * wd - pw + b; // the index output column 0 would read
            for (int ow = firstInside(b, sw, pw, outW), end = endInside(b, sw, pw, wd, outW); ow < end; ow++) {
              int i = atZero + ow * sw;
              float v = x[plane + i];
              float max = out[outOff + o + ow];
              argmax[o + ow] = v > max ? i : argmax[o + ow];
              out[outOff + o + ow] = Math.max(max, v);
            }
          }
        }
      }
    }
  }

  /**
   * {@link #maxPool2dForward} without the argmax, over planes {@code [plLo, plHi)}: each output is the same
   * {@link Math#max} chain over its window in the same order (the -infinity start dropped: {@code Math.max(-inf, v)}
   * is {@code v}, NaN and -0 included), so the same bits. Inference's pooling: PyTorch's keeps no indices either
   * there, and recording them cost 8x the values alone on a 1-d map (docs/benchmarks.md, "Conv1d").
   */
  private static void maxPoolValues(float[] out, int outOff, float[] x, int xOff, Pool2dShape s, int plLo, int plHi,
      boolean twoByTwo) {
    int h = s.height(), wd = s.width(), outH = s.outHeight(), outW = s.outWidth();
    int sh = s.strideH(), sw = s.strideW(), ph = s.padH(), pw = s.padW(), kw = s.kernelW();
    for (int pl = plLo, o = outOff + plLo * outH * outW; pl < plHi; pl++) {
      int plane = xOff + pl * h * wd;
      for (int oh = 0; oh < outH; oh++, o += outW) {
        if (twoByTwo) {
          for (int ow = 0, i = plane + 2 * oh * wd; ow < outW; ow++, i += 2) {
            out[o + ow] = max4(x[i], x[i + 1], x[i + wd], x[i + wd + 1]);
          }
          continue;
        }
        int hLo = Math.max(oh * sh - ph, 0), hHi = Math.min(oh * sh - ph + s.kernelH(), h);
        if (pw == 0 && hHi - hLo == 1 && (outW - 1) * sw + kw <= wd) { // one row, every window inside: a 1-d pooling's
          int row = plane + hLo * wd;
          if (kw == 2) {
            for (int ow = 0, i = row; ow < outW; ow++, i += sw) {
              out[o + ow] = Math.max(x[i], x[i + 1]);
            }
          } else {
            for (int ow = 0, i = row; ow < outW; ow++, i += sw) {
              float max = x[i];
              for (int b = 1; b < kw; b++) {
                max = Math.max(max, x[i + b]);
              }
              out[o + ow] = max;
            }
          }
          continue;
        }
        Arrays.fill(out, o, o + outW, Float.NEGATIVE_INFINITY);
        for (int ih = hLo; ih < hHi; ih++) {
          for (int b = 0; b < kw; b++) {
            int atZero = plane + ih * wd - pw + b; // the index output column 0 would read
            for (int ow = firstInside(b, sw, pw, outW), end = endInside(b, sw, pw, wd, outW); ow < end; ow++) {
              out[o + ow] = Math.max(out[o + ow], x[atZero + ow * sw]);
            }
          }
        }
      }
    }
  }

  /**
   * Gradient of {@link #maxPool2dForward}: each output's gradient goes to the input element it
   * was taken from. {@code dx} is overwritten.
   *
   * @param dx {@code [batch, channels, H, W]}
   * @param dout {@code [batch, channels, outH, outW]}
   * @param argmax as written by the forward
   */
  public static void maxPool2dBackward(float[] dx, int dxOff, float[] dout, int doutOff, int[] argmax, Pool2dShape s) {
    scatterToMaxima(dx, dxOff, dout, doutOff, null, 0, argmax, s);
  }

  /**
   * Gradient of {@code maxPool2d(relu(z))} with respect to {@code z}: {@link #maxPool2dBackward}
   * with each output's gradient passed only where that output, the pooled ReLU value, is
   * positive. This is the ReLU's mask exactly (every gradient lands on a window maximum, whose
   * value is the pooled output), applied to the pooled values instead of the whole input.
   *
   * @param out the forward's pooled output, {@code [batch, channels, outH, outW]}
   */
  public static void maxPool2dReluBackward(
      float[] dx, int dxOff, float[] dout, int doutOff, float[] out, int outOff, int[] argmax, Pool2dShape s) {
    scatterToMaxima(dx, dxOff, dout, doutOff, out, outOff, argmax, s);
  }

  /**
   * Overwrites {@code dx} with each output's gradient at its window maximum, masked by {@code out > 0} unless
   * {@code out} is null. A plane at a time: its zeros, then its gradients added while the plane is still in L1
   * (the whole map's fill first cost as much as the scatter), the ReLU's mask first applied to the plane's
   * gradients in a loop C2 vectorises (arrays at offset 0 under one index; in the scatter's loop it did not).
   */
  private static void scatterToMaxima(
      float[] dx, int dxOff, float[] dout, int doutOff, float[] out, int outOff, int[] argmax, Pool2dShape s) {
    int planeIn = s.height() * s.width();
    int planeOut = s.outHeight() * s.outWidth();
    int planes = s.batch() * s.channels();
    Parallel.forRange(planes, (long) planes * planeIn, (part, from, to) -> {
      float[] g = dout;
      int gOff = doutOff;
      float[] y = null;
      if (out != null) {
        g = SCRATCH.get().pooling(0, planeOut);
        y = SCRATCH.get().pooling(1, planeOut);
      }
      for (int pl = from, o = from * planeOut; pl < to; pl++, o += planeOut) {
        int plane = dxOff + pl * planeIn;
        Arrays.fill(dx, plane, plane + planeIn, 0f);
        if (out != null) {
          System.arraycopy(dout, doutOff + o, g, 0, planeOut);
          System.arraycopy(out, outOff + o, y, 0, planeOut);
          for (int t = 0; t < planeOut; t++) {
            g[t] = CpuKernels.passIfPositive(g[t], y[t]);
          }
          gOff = -o; // g[t] is the gradient of output o + t
        }
        for (int t = o; t < o + planeOut; t++) {
          dx[plane + argmax[t]] += g[gOff + t];
        }
      }
    });
  }

  /**
   * {@code parts} zeroed arrays of at least {@code len} floats from the calling thread's scratch,
   * set {@code which} (0: weight gradients, 1: bias gradients): the per-part sums of a backward
   * region, {@link Winograd}'s too.
   */
  static float[][] partials(int which, int parts, int len) {
    return SCRATCH.get().partials(which, parts, len);
  }

  /** Per-thread growing work arrays: the im2col matrix, a channel-major output or gradient, partial weight and bias gradients. */
  static final class Scratch {
    private float[] cols = new float[0];
    private float[] channelMajor = new float[0];
    private float[] plane = new float[0];
    private final float[][] pooling = {new float[0], new float[0]};
    private int[] keys = new int[0];
    private final float[][][] partials = {new float[0][], new float[0][]};

    float[] cols(int n) {
      if (cols.length < n) {
        cols = new float[n];
      }
      return cols;
    }

    /** A zero-padded input plane for {@link #im2colByTaps} and {@link #col2imByTaps}. */
    float[] plane(int n) {
      if (plane.length < n) {
        plane = new float[n];
      }
      return plane;
    }

    /** {@link #maxPool2x2OfNonNegative}'s keys, at least {@code n}. */
    int[] keys(int n) {
      if (keys.length < n) {
        keys = new int[n];
      }
      return keys;
    }

    /** Work row {@code which} (0 or 1) of the pooling kernels, at least {@code n} floats. */
    float[] pooling(int which, int n) {
      if (pooling[which].length < n) {
        pooling[which] = new float[n];
      }
      return pooling[which];
    }

    float[] channelMajor(int n) {
      if (channelMajor.length < n) {
        channelMajor = new float[n];
      }
      return channelMajor;
    }

    /**
     * {@code parts} zeroed arrays of {@code len} floats, set {@code which} (0: weight gradients, 1:
     * bias gradients), one per part of a region, owned by the thread that starts the region.
     */
    float[][] partials(int which, int parts, int len) {
      float[][] set = partials[which];
      if (set.length < parts) {
        set = partials[which] = Arrays.copyOf(set, parts);
      }
      for (int i = 0; i < parts; i++) {
        if (set[i] == null || set[i].length < len) {
          set[i] = new float[len];
        }
        Arrays.fill(set[i], 0, len, 0f);
      }
      return set;
    }
  }
}
