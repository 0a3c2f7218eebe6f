package dev.kiln.runtime.cpu;

import java.util.Arrays;

/**
 * {@link ConvKernels}' convolutions with dilation or groups ({@link Conv2dShape#plain()} false), in the same
 * conventions and with the same results as PyTorch's {@code conv2d(..., dilation, groups)}.
 *
 * <p>Depthwise convolutions (one input channel per group: MobileNet's and ConvNeXt's 3x3 and 7x7 layers,
 * with any channel multiplier) run directly, plane by plane: each output row is the sum of
 * {@code kH * kW} shifted input rows times one weight each, loops that C2 vectorises. A GEMM per group would
 * have an inner dimension of {@code kH * kW} and one row: all overhead. The weight gradient keeps one row of
 * partial sums per tap and adds them up at the end of a channel, so its inner loop is a vectorised
 * multiply-add rather than a float reduction, which C2 leaves scalar.
 *
 * <p>Other grouped or dilated convolutions are {@link ConvKernels}' im2col + GEMM once per group, over
 * chunks of samples: the unfolding reads the group's input channels with the taps {@code dilation} apart,
 * the GEMM uses the group's filters, and col2im adds the group's input gradient into its channels. The
 * Winograd and few-channel kernels are never chosen for these shapes.
 */
final class GroupedConv {
  private GroupedConv() {}

  /** Whether {@code s} runs on the direct depthwise kernels: one input channel per group. */
  static boolean depthwise(Conv2dShape s) {
    return s.groupInChannels() == 1;
  }

  /** {@link ConvKernels#conv2dForward} for a shape that is not plain. */
  static void forward(float[] out, int outOff, float[] x, int xOff, float[] w, int wOff, float[] bias, int biasOff, Conv2dShape s) {
    if (depthwise(s)) {
      depthwiseForward(out, outOff, x, xOff, null, w, wOff, bias, biasOff, s);
      return;
    }
    int k = s.patchSize();
    int p = s.outPlaneSize();
    int outC = s.outChannels();
    int og = s.groupOutChannels();
    int chunk = ConvKernels.chunkSize(s.batch(), (long) k * p, ConvKernels.COLS_BUDGET);
    int chunks = (s.batch() + chunk - 1) / chunk;
    Parallel.forRange(chunks, (long) s.batch() * s.inChannels() * s.kernelH() * s.kernelW() * p, (part, from, to) -> {
      ConvKernels.Scratch scratch = ConvKernels.SCRATCH.get();
      for (int n0 = from * chunk; n0 < Math.min(to * chunk, s.batch()); n0 += chunk) {
        int cn = Math.min(chunk, s.batch() - n0);
        int ld = cn * p;
        float[] cols = scratch.cols(k * ld);
        float[] y = scratch.channelMajor(outC * ld);
        for (int g = 0; g < s.groups(); g++) {
          im2col(cols, x, xOff, n0, cn, s, g);
          Blas.sgemm(false, false, og, ld, k, 1f, w, wOff + g * og * k, k, cols, 0, ld, 0f, y, g * og * ld, ld);
        }
        ConvKernels.fromChannelMajor(out, outOff, y, bias, biasOff, n0, cn, outC, p);
      }
    });
  }

  /** {@link ConvKernels#conv2dBackward} for a shape that is not plain. */
  static void backward(
      float[] dx, int dxOff, float[] dw, int dwOff, float[] dbias, int dbOff, boolean accumulate,
      float[] dout, int doutOff, float[] x, int xOff, float[] w, int wOff, Conv2dShape s) {
    if (depthwise(s)) {
      if (dx != null) {
        depthwiseInputGradient(dx, dxOff, dout, doutOff, w, wOff, s);
      }
      if (dw != null || dbias != null) {
        depthwiseWeightGradient(dw, dwOff, dbias, dbOff, accumulate, dout, doutOff, x, xOff, s);
      }
      return;
    }
    int k = s.patchSize();
    int p = s.outPlaneSize();
    int outC = s.outChannels();
    int og = s.groupOutChannels();
    int chunk = ConvKernels.chunkSize(s.batch(), (long) k * p, ConvKernels.COLS_BUDGET);
    int chunks = (s.batch() + chunk - 1) / chunk;
    int parts = Math.min(Parallel.threads(), chunks);
    float[][] dwParts = dw == null ? null : ConvKernels.partials(0, parts, outC * k);
    float[][] dbParts = dbias == null ? null : ConvKernels.partials(1, parts, outC);
    int sampleSize = s.inputSampleSize();
    Parallel.forRange(chunks, (long) s.batch() * s.inChannels() * s.kernelH() * s.kernelW() * p, (part, from, to) -> {
      ConvKernels.Scratch scratch = ConvKernels.SCRATCH.get();
      float[] dwPart = dw == null ? null : dwParts[part];
      float[] dbPart = dbias == null ? null : dbParts[part];
      for (int n0 = from * chunk; n0 < Math.min(to * chunk, s.batch()); n0 += chunk) {
        int cn = Math.min(chunk, s.batch() - n0);
        int ld = cn * p;
        float[] dy = scratch.channelMajor(outC * ld);
        ConvKernels.toChannelMajor(dy, dout, doutOff, dbPart, n0, cn, outC, p);
        float[] cols = scratch.cols(k * ld);
        if (dx != null) {
          Arrays.fill(dx, dxOff + n0 * sampleSize, dxOff + (n0 + cn) * sampleSize, 0f);
        }
        for (int g = 0; g < s.groups(); g++) {
          if (dwPart != null) {
            im2col(cols, x, xOff, n0, cn, s, g);
            Blas.sgemm(false, true, og, k, ld, 1f, dy, g * og * ld, ld, cols, 0, ld, 1f, dwPart, g * og * k, k);
          }
          if (dx != null) {
            Blas.sgemm(true, false, k, ld, og, 1f, w, wOff + g * og * k, k, dy, g * og * ld, ld, 0f, cols, 0, ld);
            col2imAdd(dx, dxOff, cols, n0, cn, s, g);
          }
        }
      }
    });
    if (dw != null) {
      ConvKernels.addParts(dw, dwOff, dwParts, parts, outC * k, accumulate);
    }
    if (dbias != null) {
      ConvKernels.addParts(dbias, dbOff, dbParts, parts, outC, accumulate);
    }
  }

  /**
   * Unfolds group {@code g}'s channels of samples {@code n0 .. n0+cn-1} into {@code cols[K, cn*P]}: row
   * {@code (c, a, b)}, column {@code (i, oh, ow)} holds
   * {@code x[n0+i, g*cg + c, oh*sH - pH + a*dH, ow*sW - pW + b*dW]}, or 0 in the padding. (Also {@link ConvKernels}'
   * row loops for plain shapes, group 0.)
   */
  static void im2col(float[] cols, float[] x, int xOff, int n0, int cn, Conv2dShape s, int g) {
    walk(cols, x, xOff, n0, cn, s, g, false);
  }

  /** Adds {@code cols[K, cn*P]} back onto group {@code g}'s channels of {@code dx}: {@link #im2col}'s transpose. */
  static void col2imAdd(float[] dx, int dxOff, float[] cols, int n0, int cn, Conv2dShape s, int g) {
    walk(cols, dx, dxOff, n0, cn, s, g, true);
  }

  /** The rows of {@link #im2col} ({@code fold} false: {@code x} into {@code cols}) or {@link #col2imAdd} (true: back). */
  private static void walk(float[] cols, float[] x, int xOff, int n0, int cn, Conv2dShape s, int g, boolean fold) {
    int h = s.height(), wd = s.width(), outH = s.outHeight(), outW = s.outWidth();
    int sh = s.strideH(), sw = s.strideW(), ph = s.padH(), pw = s.padW(), dh = s.dilationH(), dwl = s.dilationW();
    int cg = s.groupInChannels();
    int p = outH * outW;
    int ld = cn * p;
    for (int i = 0; i < cn; i++) {
      int group = xOff + (n0 + i) * s.inputSampleSize() + g * cg * h * wd;
      int row = 0;
      for (int c = 0; c < cg; c++) {
        int plane = group + c * h * wd;
        for (int a = 0; a < s.kernelH(); a++) {
          for (int b = 0; b < s.kernelW(); b++, row++) {
            int shift = b * dwl;
            int owLo = ConvKernels.firstInside(shift, sw, pw, outW);
            int owHi = ConvKernels.endInside(shift, sw, pw, wd, outW);
            int col = row * ld + i * p;
            for (int oh = 0; oh < outH; oh++, col += outW) {
              int ih = oh * sh - ph + a * dh;
              boolean inside = ih >= 0 && ih < h && owLo < owHi;
              int src = plane + ih * wd - pw + shift;
              if (fold) {
                if (inside) {
                  addRow(x, src, sw, cols, col, owLo, owHi);
                }
              } else if (!inside) {
                ConvKernels.zero(cols, col, col + outW);
              } else {
                ConvKernels.zero(cols, col, col + owLo);
                if (sw == 1) {
                  System.arraycopy(x, src + owLo, cols, col + owLo, owHi - owLo);
                } else {
                  for (int ow = owLo; ow < owHi; ow++) {
                    cols[col + ow] = x[src + ow * sw];
                  }
                }
                ConvKernels.zero(cols, col + owHi, col + outW);
              }
            }
          }
        }
      }
    }
  }

  /** {@code into[at + ow*stride] += from[src + ow]} for {@code ow} in {@code [lo, hi)}. */
  private static void addRow(float[] into, int at, int stride, float[] from, int src, int lo, int hi) {
    if (stride == 1) {
      for (int ow = lo; ow < hi; ow++) {
        into[at + ow] += from[src + ow];
      }
    } else {
      for (int ow = lo; ow < hi; ow++) {
        into[at + ow * stride] += from[src + ow];
      }
    }
  }

  // ------------------------------------------------------------------ depthwise

  /**
   * Depthwise forward: output plane {@code (n, o)} reads input plane {@code (n, o / m)}, {@code m} the channel
   * multiplier {@code outC / inC}; each output row is the bias plus, per tap, the weight times an input row. The input
   * read through {@code pre} unless it is null (where {@link #readsThroughAffine}).
   */
  static void depthwiseForward(float[] out, int outOff, float[] x, int xOff, ChannelAffine pre, float[] w, int wOff,
      float[] bias, int biasOff, Conv2dShape s) {
    if (unitStride(s)) {
      flatForward(out, outOff, x, xOff, pre, w, wOff, bias, biasOff, s);
      return;
    }
    if (PHASED && phased(s)) {
      phasedForward(out, outOff, x, xOff, pre, w, wOff, bias, biasOff, s);
      return;
    }
    if (pre != null) {
      throw new IllegalArgumentException("the depthwise forward reads through a channel map only at stride 1 or 2, got " + s);
    }
    int outC = s.outChannels(), m = s.groupOutChannels();
    int h = s.height(), wd = s.width(), outH = s.outHeight(), outW = s.outWidth();
    int kh = s.kernelH(), kw = s.kernelW(), sh = s.strideH(), sw = s.strideW(), ph = s.padH(), pw = s.padW();
    int dh = s.dilationH(), dwl = s.dilationW();
    int p = outH * outW;
    int[] lo = new int[kw], hi = new int[kw];
    windows(s, lo, hi);
    Parallel.forRange(s.batch() * outC, (long) s.batch() * outC * p * kh * kw, (part, from, to) -> {
      for (int plane = from; plane < to; plane++) {
        int n = plane / outC, o = plane % outC;
        int in = xOff + (n * s.inChannels() + o / m) * h * wd;
        int dst = outOff + plane * p;
        Arrays.fill(out, dst, dst + p, bias == null ? 0f : bias[biasOff + o]);
        int filter = wOff + o * kh * kw;
        for (int oh = 0; oh < outH; oh++, dst += outW) {
          for (int a = 0; a < kh; a++) {
            int ih = oh * sh - ph + a * dh;
            if (ih < 0 || ih >= h) {
              continue;
            }
            int row = in + ih * wd - pw;
            for (int b = 0; b < kw; b++) {
              multiplyAdd(out, dst, w[filter + a * kw + b], x, row + b * dwl, sw, lo[b], hi[b]);
            }
          }
        }
      }
    });
  }

  /** Whether {@link #depthwiseForward} may read its input through a {@link ChannelAffine}: depthwise, stride 1, or 2 by phases. */
  static boolean readsThroughAffine(Conv2dShape s) {
    return depthwise(s) && (unitStride(s) || PHASED && phased(s));
  }

  /** {@code into[at + ow] += v * from[src + ow*stride]} for {@code ow} in {@code [lo, hi)}. */
  private static void multiplyAdd(float[] into, int at, float v, float[] from, int src, int stride, int lo, int hi) {
    if (stride == 1) {
      for (int ow = lo; ow < hi; ow++) {
        into[at + ow] += v * from[src + ow];
      }
    } else {
      for (int ow = lo; ow < hi; ow++) {
        into[at + ow] += v * from[src + ow * stride];
      }
    }
  }

  /** Per kernel column {@code b}, the output columns {@code [lo[b], hi[b])} whose input column lies inside the input. */
  private static void windows(Conv2dShape s, int[] lo, int[] hi) {
    for (int b = 0; b < s.kernelW(); b++) {
      lo[b] = ConvKernels.firstInside(b * s.dilationW(), s.strideW(), s.padW(), s.outWidth());
      hi[b] = ConvKernels.endInside(b * s.dilationW(), s.strideW(), s.padW(), s.width(), s.outWidth());
    }
  }

  /** Depthwise input gradient, overwriting {@code dx}: plane {@code (n, c)} gathers from its {@code m} output planes. */
  private static void depthwiseInputGradient(float[] dx, int dxOff, float[] dout, int doutOff, float[] w, int wOff, Conv2dShape s) {
    if (unitStride(s)) {
      Conv2dShape flipped = flippedForward(s);
      if (flipped != null) {
        flatForward(dx, dxOff, dout, doutOff, null, flip(w, wOff, s), 0, null, 0, flipped);
      } else {
        flatInputGradient(dx, dxOff, dout, doutOff, w, wOff, s);
      }
      return;
    }
    int inC = s.inChannels(), outC = s.outChannels(), m = s.groupOutChannels();
    int h = s.height(), wd = s.width(), outH = s.outHeight(), outW = s.outWidth();
    int kh = s.kernelH(), kw = s.kernelW(), sh = s.strideH(), sw = s.strideW(), ph = s.padH(), pw = s.padW();
    int dh = s.dilationH(), dwl = s.dilationW();
    int p = outH * outW;
    int[] lo = new int[kw], hi = new int[kw];
    windows(s, lo, hi);
    Parallel.forRange(s.batch() * inC, (long) s.batch() * outC * p * kh * kw, (part, from, to) -> {
      for (int plane = from; plane < to; plane++) {
        int n = plane / inC, c = plane % inC;
        int into = dxOff + plane * h * wd;
        Arrays.fill(dx, into, into + h * wd, 0f);
        for (int o = c * m; o < (c + 1) * m; o++) {
          int src = doutOff + (n * outC + o) * p;
          int filter = wOff + o * kh * kw;
          for (int oh = 0; oh < outH; oh++, src += outW) {
            for (int a = 0; a < kh; a++) {
              int ih = oh * sh - ph + a * dh;
              if (ih < 0 || ih >= h) {
                continue;
              }
              int row = into + ih * wd - pw;
              for (int b = 0; b < kw; b++) {
                float v = w[filter + a * kw + b];
                int at = row + b * dwl;
                if (sw == 1) {
                  for (int ow = lo[b]; ow < hi[b]; ow++) {
                    dx[at + ow] += v * dout[src + ow];
                  }
                } else {
                  for (int ow = lo[b]; ow < hi[b]; ow++) {
                    dx[at + ow * sw] += v * dout[src + ow];
                  }
                }
              }
            }
          }
        }
      }
    });
  }

  /**
   * Depthwise weight and bias gradients (either may be null), output channel by output channel over the
   * whole batch: per tap a row of partial sums {@code acc[t, ow] += dout[n, o, oh, ow] * x[..]}, summed once
   * at the end (in double), so that the inner loop is a vectorised multiply-add.
   */
  private static void depthwiseWeightGradient(float[] dw, int dwOff, float[] dbias, int dbOff, boolean accumulate,
      float[] dout, int doutOff, float[] x, int xOff, Conv2dShape s) {
    if (unitStride(s) && dw != null) {
      flatWeightGradient(dw, dwOff, dout, doutOff, x, xOff, s, accumulate);
      if (dbias != null) {
        depthwiseWeightGradient(null, 0, dbias, dbOff, accumulate, dout, doutOff, x, xOff, s);
      }
      return;
    }
    int inC = s.inChannels(), outC = s.outChannels(), m = s.groupOutChannels();
    int h = s.height(), wd = s.width(), outH = s.outHeight(), outW = s.outWidth();
    int kh = s.kernelH(), kw = s.kernelW(), sh = s.strideH(), sw = s.strideW(), ph = s.padH(), pw = s.padW();
    int dh = s.dilationH(), dwl = s.dilationW();
    int p = outH * outW;
    int taps = kh * kw;
    int[] lo = new int[kw], hi = new int[kw];
    windows(s, lo, hi);
    Parallel.forRange(outC, (long) s.batch() * outC * p * taps, (part, from, to) -> {
      float[] acc = ConvKernels.SCRATCH.get().cols(taps * outW);
      for (int o = from; o < to; o++) {
        if (dw != null) {
          Arrays.fill(acc, 0, taps * outW, 0f);
          for (int n = 0; n < s.batch(); n++) {
            int in = xOff + (n * inC + o / m) * h * wd;
            int src = doutOff + (n * outC + o) * p;
            for (int oh = 0; oh < outH; oh++, src += outW) {
              for (int a = 0; a < kh; a++) {
                int ih = oh * sh - ph + a * dh;
                if (ih < 0 || ih >= h) {
                  continue;
                }
                int row = in + ih * wd - pw;
                for (int b = 0; b < kw; b++) {
                  int t = (a * kw + b) * outW;
                  int at = row + b * dwl;
                  if (sw == 1) {
                    for (int ow = lo[b]; ow < hi[b]; ow++) {
                      acc[t + ow] += dout[src + ow] * x[at + ow];
                    }
                  } else {
                    for (int ow = lo[b]; ow < hi[b]; ow++) {
                      acc[t + ow] += dout[src + ow] * x[at + ow * sw];
                    }
                  }
                }
              }
            }
          }
          for (int t = 0; t < taps; t++) {
            float sum = (float) NormKernels.sum(acc, t * outW, outW);
            int at = dwOff + o * taps + t;
            dw[at] = accumulate ? dw[at] + sum : sum;
          }
        }
        if (dbias != null) {
          double sum = 0;
          for (int n = 0; n < s.batch(); n++) {
            sum += NormKernels.sum(dout, doutOff + (n * outC + o) * p, p);
          }
          dbias[dbOff + o] = accumulate ? dbias[dbOff + o] + (float) sum : (float) sum;
        }
      }
    });
  }

  // ------------------------------------------------------------------ depthwise, stride 1: shifted planes

  /*
   * (The stride-1 forward and, since the twenty-fourth session, both gradients run over stacked samples instead:
   * flatForward, flippedForward and flatWeightGradient below. These shifted planes are the stride-2 forward's, and the
   * input gradient's where it is not a flipped forward: a channel multiplier, or padding past the kernel's span.)
   * With stride 1, a plane is copied once into a zero-padded buffer of rows pw = W + 2 padW wide, and the output is
   * computed over rows of that same width: output (oh, ow) at oh * pw + ow, the columns from outW on junk, dropped when
   * the rows are copied out (and zero where a gradient is read over them). Tap (a, b) then reads the padded plane at one
   * offset, a dH pw + b dW, for the whole plane: one System.arraycopy makes its shifted plane, and the sums run over
   * arrays at offset 0 under one index, a kernel row's three terms at a time (FewChannelConv.row), the only form C2
   * (JDK 17) vectorises. Reading the padded plane at the offset directly ran 3-6x slower (not vectorised); shifted
   * planes built row by row spent their time in short copies on small maps (7x7 kernels on 8x8: 9 ms against 2).
   * The input gradient is the same over the output gradient padded by the kernel's span, with the kernel flipped.
   */

  private static boolean unitStride(Conv2dShape s) {
    return s.strideH() == 1 && s.strideW() == 1;
  }

  /**
   * Copies {@code src[from ..]}, an {@code h x wd} plane, into {@code padded} at row {@code top}, column {@code left} of
   * rows {@code pw} wide, zero elsewhere in its first {@code size} floats.
   */
  private static void pad(float[] padded, int size, float[] src, int from, int h, int wd, int top, int left, int pw) {
    Arrays.fill(padded, 0, size, 0f);
    for (int i = 0; i < h; i++) {
      System.arraycopy(src, from + i * wd, padded, (top + i) * pw + left, wd);
    }
  }

  /**
   * The shifted planes of {@code padded} (rows {@code pw} wide), {@code len} floats each from row {@code top}, column
   * {@code left}: tap {@code (a, b)}'s from {@code (top + a dH) pw + left + b dW}, into {@code rows[a kW + b]}, or with
   * {@code flip} into {@code rows[(kH - 1 - a) kW + kW - 1 - b]}.
   */
  private static void shift(float[][] rows, float[] padded, int pw, int top, int left, int len, Conv2dShape s, boolean flip) {
    int kh = s.kernelH(), kw = s.kernelW();
    for (int a = 0; a < kh; a++) {
      for (int b = 0; b < kw; b++) {
        float[] row = rows[flip ? (kh - 1 - a) * kw + kw - 1 - b : a * kw + b];
        System.arraycopy(padded, (top + a * s.dilationH()) * pw + left + b * s.dilationW(), row, 0, len);
      }
    }
  }

  /** Copies {@code count} rows of {@code cols} from {@code from} (rows {@code pw} apart, from 0) to {@code to[at ..]}. */
  private static void narrow(float[] from, int pw, float[] to, int at, int count, int cols) {
    narrow(from, pw, to, at, count, cols, 0);
  }

  /** {@link #narrow(float[], int, float[], int, int, int)} of the rows from {@code from[start]} on. */
  private static void narrow(float[] from, int pw, float[] to, int at, int count, int cols, int start) {
    for (int i = 0; i < count; i++) {
      System.arraycopy(from, start + i * pw, to, at + i * cols, cols);
    }
  }

  /** {@code acc[q] += sum over taps t of w[wAt + t] * rows[t][q]}, three taps at a time, for {@code q < len}. */
  private static void sumTaps(float[] acc, int len, float[] w, int wAt, float[][] rows, int taps) {
    sumTaps(acc, len, w, wAt, rows, 0, taps);
  }

  /** {@link #sumTaps(float[], int, float[], int, float[][], int)} over taps {@code from .. to-1} only. */
  private static void sumTaps(float[] acc, int len, float[] w, int wAt, float[][] rows, int from, int to) {
    int t = from;
    for (; t + 3 <= to; t += 3) {
      FewChannelConv.row(acc, len, w[wAt + t], rows[t], w[wAt + t + 1], rows[t + 1], w[wAt + t + 2], rows[t + 2]);
    }
    for (; t < to; t++) {
      float v = w[wAt + t];
      float[] r = rows[t];
      for (int q = 0; q < len; q++) {
        acc[q] += v * r[q];
      }
    }
  }


  // ------------------------------------------------------------------ depthwise forward, stride 2: phase planes

  /*
   * With stride 2 (no dilation), output (oh, ow) reads padded input (2 oh + a, 2 ow + b): tap (a, b) reads the phase
   * plane (a mod 2, b mod 2) of the padded input (its rows and columns of that parity) at (oh + a / 2, ow + b / 2), a
   * stride-1 read. So a plane is split once into its four phase planes, rows qw = outW + (kW - 1) / 2 wide, and the
   * taps' shifted planes, sums and narrowing are the stride-1 gradients' (shift, sumTaps, narrow). The strided row loops before ran
   * 2.3 ms for MobileNet's 3x3 on [16, 64, 32, 32] (PyTorch 0.67): their strided reads were not vectorised.
   */

  /** Whether {@link #depthwiseForward} at stride 2 splits planes into phases ({@code -Dkiln.phasedconv=false}: the row loops, for comparisons). */
  static final boolean PHASED = !"false".equals(System.getProperty("kiln.phasedconv"));

  private static boolean phased(Conv2dShape s) {
    return s.strideH() == 2 && s.strideW() == 2 && s.dilationH() == 1 && s.dilationW() == 1;
  }

  private static void phasedForward(float[] out, int outOff, float[] x, int xOff, ChannelAffine pre, float[] w, int wOff,
      float[] bias, int biasOff, Conv2dShape s) {
    int inC = s.inChannels(), outC = s.outChannels(), m = s.groupOutChannels();
    int h = s.height(), wd = s.width(), outH = s.outHeight(), outW = s.outWidth();
    int kh = s.kernelH(), kw = s.kernelW(), taps = kh * kw;
    int qw = outW + (kw - 1) / 2, qh = outH + (kh - 1) / 2;
    int len = outH * qw, p = outH * outW;
    int phaseSize = qh * qw + (kw - 1) / 2; // its rows, and the last taps' reads past them
    Parallel.forRange(s.batch() * inC, (long) s.batch() * outC * p * taps, (part, from, to) -> {
      FewChannelConv.Scratch scratch = FewChannelConv.SCRATCH.get();
      float[] phases = scratch.planes(4 * phaseSize);
      float[][] rows = scratch.shifted(taps, len);
      float[] acc = scratch.acc(len);
      for (int plane = from; plane < to; plane++) {
        int n = plane / inC, c = plane % inC;
        if (pre == null) {
          splitPhases(phases, phaseSize, x, xOff + plane * h * wd, s, qh, qw);
        } else {
          float[] mapped = STACK_SCRATCH.get().plane(h * wd);
          pre.apply(mapped, 0, x, xOff + plane * h * wd, h * wd, c);
          splitPhases(phases, phaseSize, mapped, 0, s, qh, qw);
        }
        for (int a = 0; a < kh; a++) {
          for (int b = 0; b < kw; b++) {
            System.arraycopy(phases, (a % 2 * 2 + b % 2) * phaseSize + a / 2 * qw + b / 2, rows[a * kw + b], 0, len);
          }
        }
        for (int o = c * m; o < (c + 1) * m; o++) {
          Arrays.fill(acc, 0, len, bias == null ? 0f : bias[biasOff + o]);
          sumTaps(acc, len, w, wOff + o * taps, rows, taps);
          narrow(acc, qw, out, outOff + (n * outC + o) * p, outH, outW);
        }
      }
    });
  }

  /**
   * The four phase planes of the zero-padded {@code h x wd} plane {@code x[from ..]}, {@code phaseSize} floats apart in
   * {@code phases}: plane {@code 2 ra + rb}, place {@code r qw + c}, holds padded {@code (2 r + ra, 2 c + rb)}, that is
   * {@code x[2 r + ra - padH, 2 c + rb - padW]}, or 0 outside the input.
   */
  private static void splitPhases(float[] phases, int phaseSize, float[] x, int from, Conv2dShape s, int qh, int qw) {
    int h = s.height(), wd = s.width(), ph = s.padH(), pw = s.padW();
    Arrays.fill(phases, 0, 4 * phaseSize, 0f);
    for (int ra = 0; ra < 2; ra++) {
      for (int rb = 0; rb < 2; rb++) {
        int base = (ra * 2 + rb) * phaseSize;
        int c0 = Math.max(0, (pw - rb + 1) / 2), c1 = Math.min(qw, (wd + pw - rb + 1) / 2); // 0 <= 2c + rb - pw < wd
        for (int r = 0; r < qh; r++) {
          int ih = 2 * r + ra - ph;
          if (ih < 0 || ih >= h) {
            continue;
          }
          int src = from + ih * wd + rb - pw, dst = base + r * qw;
          for (int cc = c0; cc < c1; cc++) {
            phases[dst + cc] = x[src + 2 * cc];
          }
        }
      }
    }
  }

  // ------------------------------------------------------------------ depthwise forward, stride 1: kernel rows

  /*
   * The stride-1 forward (twenty-third session) runs kernel row by kernel row over a stack of one input channel's samples.
   * The samples' planes are stacked into one zero-padded buffer whose padding is shared: rows rw = max(W + padW, outW)
   * apart (a row's right padding is the next row's left: reads past a row's end land in the next row's first padW zeros),
   * samples sh = max(H + padH, outH) rows apart (a sample's bottom padding is the next one's top). Output (i, oh, ow) is
   * computed at (i sh + oh) rw + ow; the places in between are junk, never copied out. Then only kW shifted copies of the
   * stack are made, one per kernel column (col[b][q] = stack[q + b dW]), and kernel row a's sums run over them at offset
   * 0 (the loops C2 vectorises): part_a[q] = sum over b of w[a, b] col[b][q], over the stack's rows; the output adds
   * part_a from row a dH on, one copy of part_a shifted by a dH rw (a read at that offset would not be vectorised: C2
   * (JDK 17) packs a loop's float accesses only at one alignment, and not across an offset only known at run time). So
   * kW + kH - 1 copies per plane instead of kH kW, and loops as long as a chunk of samples (small maps no longer run
   * loops of a plane's 112 floats, most of it in the scalar pre- and post-loops). Samples are stacked up to
   * STACK_BUDGET floats (a 32x32 map alone, a 7x7's 8x8 maps 16 at a time), which keeps the columns and partial sums in
   * L1 and L2. The per-plane shifted planes of kH kW taps before: 3x3 on [16, 64, 32, 32] 2.2 ms, 7x7 on [16, 128, 8, 8]
   * 2.0 (docs/benchmarks.md, "Twenty-third session").
   */

  /** Floats of one chunk's stacked rows: as many samples of a channel as fit, at least one. */
  private static final int STACK_BUDGET = 1024;

  private static void flatForward(float[] out, int outOff, float[] x, int xOff, ChannelAffine pre, float[] w, int wOff,
      float[] bias, int biasOff, Conv2dShape s) {
    int inC = s.inChannels(), outC = s.outChannels(), m = s.groupOutChannels();
    int h = s.height(), wd = s.width(), outH = s.outHeight(), outW = s.outWidth();
    int kh = s.kernelH(), kw = s.kernelW(), taps = kh * kw, p = outH * outW;
    int spanH = s.dilationH() * (kh - 1), spanW = s.dilationW() * (kw - 1);
    int rw = Math.max(wd + s.padW(), outW), sh = Math.max(h + s.padH(), outH);
    int chunk = Math.max(1, Math.min(s.batch(), STACK_BUDGET / (sh * rw)));
    int chunks = (s.batch() + chunk - 1) / chunk;
    Parallel.forRange(inC * chunks, (long) s.batch() * outC * p * taps, (part, from, to) -> {
      StackScratch scratch = STACK_SCRATCH.get();
      for (int item = from; item < to; item++) {
        int c = item / chunks, n0 = item % chunks * chunk, cn = Math.min(chunk, s.batch() - n0);
        int len = ((cn - 1) * sh + outH) * rw; // through the last sample's last output row
        int full = len + spanH * rw; // the rows the kernel rows read
        float[] stack = scratch.stack(full + spanW);
        float[][] cols = scratch.cols(kw, full);
        float[] acc = scratch.acc(len), sums = scratch.sums(full), shifted = scratch.shifted(len), other = scratch.other(len);
        stack(stack, full + spanW, x, xOff, pre, c, n0, cn, s, rw, sh, scratch);
        for (int b = 0; b < kw; b++) {
          System.arraycopy(stack, b * s.dilationW(), cols[b], 0, full);
        }
        for (int o = c * m; o < (c + 1) * m; o++) {
          int filter = wOff + o * taps;
          rowSums(acc, 0, len, bias == null ? 0f : bias[biasOff + o], w, filter, cols, kw);
          for (int a = 1; a < kh; a += 2) { // kernel rows two at a time: one pass adds both
            int shift = a * s.dilationH() * rw;
            rowSums(sums, shift, shift + len, 0f, w, filter + a * kw, cols, kw);
            System.arraycopy(sums, shift, shifted, 0, len);
            if (a + 1 == kh) {
              for (int q = 0; q < len; q++) {
                acc[q] += shifted[q];
              }
            } else {
              int next = shift + s.dilationH() * rw;
              rowSums(sums, next, next + len, 0f, w, filter + (a + 1) * kw, cols, kw);
              System.arraycopy(sums, next, other, 0, len);
              for (int q = 0; q < len; q++) {
                acc[q] += shifted[q] + other[q];
              }
            }
          }
          for (int i = 0; i < cn; i++) {
            narrow(acc, rw, out, outOff + ((n0 + i) * outC + o) * p, outH, outW, i * sh * rw);
          }
        }
      }
    });
  }

  /**
   * {@code into[q] = init + sum over b < kw of w[wAt + b] cols[b][q]} for {@code q} in {@code [start, end)}: the first
   * taps written with {@code init} (four of seven, two of five), the rest added three at a time, so that no loop adds a
   * single tap (a pass over {@code into} for one multiply-add). Every array at the one index {@code q}, which C2
   * vectorises from any start.
   */
  private static void rowSums(float[] into, int start, int end, float init, float[] w, int wAt, float[][] cols, int kw) {
    int first = kw % 3 == 0 ? 3 : kw % 3 == 2 ? 2 : Math.min(kw, 4);
    float w0 = w[wAt];
    float[] c0 = cols[0];
    if (first == 1) {
      for (int q = start; q < end; q++) {
        into[q] = init + w0 * c0[q];
      }
      return;
    }
    float w1 = w[wAt + 1];
    float[] c1 = cols[1];
    if (first == 2) {
      for (int q = start; q < end; q++) {
        into[q] = init + (w0 * c0[q] + w1 * c1[q]);
      }
    } else {
      float w2 = w[wAt + 2];
      float[] c2 = cols[2];
      if (first == 3) {
        for (int q = start; q < end; q++) {
          into[q] = init + (w0 * c0[q] + w1 * c1[q] + w2 * c2[q]);
        }
      } else {
        float w3 = w[wAt + 3];
        float[] c3 = cols[3];
        for (int q = start; q < end; q++) {
          into[q] = init + (w0 * c0[q] + w1 * c1[q] + w2 * c2[q] + w3 * c3[q]);
        }
      }
    }
    for (int b = first; b < kw; b += 3) { // kw - first is a multiple of 3
      float v0 = w[wAt + b], v1 = w[wAt + b + 1], v2 = w[wAt + b + 2];
      float[] s0 = cols[b], s1 = cols[b + 1], s2 = cols[b + 2];
      for (int q = start; q < end; q++) {
        into[q] += v0 * s0[q] + v1 * s1[q] + v2 * s2[q];
      }
    }
  }

  /**
   * Input channel {@code c} of samples {@code n0 .. n0+cn-1} into {@code stack} (its first {@code size} floats, zero
   * but for the data), read through {@code pre} unless it is null (the plane mapped whole into scratch first: one long
   * loop rather than a short one per row): sample {@code i}'s row {@code r}, column {@code j} at {@code (i sh + padH + r)
   * rw + padW + j}.
   */
  private static void stack(float[] stack, int size, float[] x, int xOff, ChannelAffine pre, int c, int n0, int cn,
      Conv2dShape s, int rw, int sh, StackScratch scratch) {
    int h = s.height(), wd = s.width();
    Arrays.fill(stack, 0, size, 0f);
    for (int i = 0; i < cn; i++) {
      float[] src = x;
      int from = xOff + ((n0 + i) * s.inChannels() + c) * h * wd;
      if (pre != null) {
        src = scratch.plane(h * wd);
        pre.apply(src, 0, x, from, h * wd, c);
        from = 0;
      }
      int to = (i * sh + s.padH()) * rw + s.padW();
      for (int r = 0; r < h; r++) {
        System.arraycopy(src, from + r * wd, stack, to + r * rw, wd);
      }
    }
  }

  private static final ThreadLocal<StackScratch> STACK_SCRATCH = ThreadLocal.withInitial(StackScratch::new);

  /** {@link #flatForward}'s per-thread buffers (and {@link #phasedForward}'s mapped plane), grown as needed. */
  private static final class StackScratch {
    private float[] stack = new float[0], acc = new float[0], sums = new float[0], shifted = new float[0], other = new float[0];
    private float[] plane = new float[0];

    /** One input plane read through a {@link ChannelAffine}. */
    float[] plane(int n) {
      return plane.length >= n ? plane : (plane = new float[n]);
    }

    private float[][] cols = new float[0][];

    float[] stack(int n) {
      return stack.length >= n ? stack : (stack = new float[n]);
    }

    float[] acc(int n) {
      return acc.length >= n ? acc : (acc = new float[n]);
    }

    float[] sums(int n) {
      return sums.length >= n ? sums : (sums = new float[n]);
    }

    float[] shifted(int n) {
      return shifted.length >= n ? shifted : (shifted = new float[n]);
    }

    float[] other(int n) {
      return other.length >= n ? other : (other = new float[n]);
    }

    private float[][] gradientRows = new float[0][];

    /** {@code count} arrays of at least {@code len} floats: the output gradient placed for each kernel row. */
    float[][] gradientRows(int count, int len) {
      return gradientRows = FewChannelConv.Scratch.grown(gradientRows, count, len);
    }

    /** {@code count} arrays of at least {@code len} floats: the stack shifted by each kernel column. */
    float[][] cols(int count, int len) {
      return cols = FewChannelConv.Scratch.grown(cols, count, len);
    }
  }

  /**
   * The stride-1 depthwise input gradient as a forward ({@link #flatForward}) over the output gradient, or null where
   * it is not one: {@code dx[ih, iw] = sum over (a, b) of w[a, b] g[ih + padH - a dH, iw + padW - b dW]}, which with
   * the kernel flipped ({@code a' = kH - 1 - a}) reads {@code g[ih - (spanH - padH) + a' dH, ..]}: a convolution of
   * {@code g} (an {@code outH x outW} map) with padding {@code span - pad} per axis, whose output is {@code H x W}.
   * Only with one output channel per input channel (a multiplier sums several planes into one) and padding at most the
   * kernel's span (else the padding would be negative).
   */
  private static Conv2dShape flippedForward(Conv2dShape s) {
    int spanH = s.dilationH() * (s.kernelH() - 1), spanW = s.dilationW() * (s.kernelW() - 1);
    if (!FLIPPED_INPUT_GRADIENT || s.groupOutChannels() != 1 || s.padH() > spanH || s.padW() > spanW) {
      return null;
    }
    return new Conv2dShape(s.batch(), s.outChannels(), s.outHeight(), s.outWidth(), s.outChannels(), s.kernelH(), s.kernelW(),
        1, 1, spanH - s.padH(), spanW - s.padW(), s.dilationH(), s.dilationW(), s.outChannels());
  }

  /** Whether the stride-1 input gradient runs as a flipped forward ({@code -Dkiln.flippeddx=false}: the shifted planes, for comparisons). */
  static final boolean FLIPPED_INPUT_GRADIENT = !"false".equals(System.getProperty("kiln.flippeddx"));

  /** The depthwise filters {@code w[wOff ..]} ({@code [outC, 1, kH, kW]}), each turned by 180 degrees, into a new array. */
  private static float[] flip(float[] w, int wOff, Conv2dShape s) {
    int taps = s.kernelH() * s.kernelW();
    float[] flipped = new float[s.outChannels() * taps];
    for (int o = 0; o < s.outChannels(); o++) {
      for (int t = 0; t < taps; t++) {
        flipped[o * taps + t] = w[wOff + o * taps + taps - 1 - t];
      }
    }
    return flipped;
  }

  /**
   * {@code dx[ih, iw] = sum over (a, b) of w[a, b] g[ih + padH - a dH, iw + padW - b dW]}: the output gradient placed at
   * row {@code spanH}, column {@code spanW} of a zero plane {@code gw = W + 2 padW + spanW} wide, shifted from row
   * {@code padH}, column {@code padW} on, times the flipped kernel.
   */
  private static void flatInputGradient(float[] dx, int dxOff, float[] dout, int doutOff, float[] w, int wOff, Conv2dShape s) {
    int inC = s.inChannels(), outC = s.outChannels(), m = s.groupOutChannels();
    int h = s.height(), wd = s.width(), outH = s.outHeight(), outW = s.outWidth(), taps = s.kernelH() * s.kernelW();
    int spanH = s.dilationH() * (s.kernelH() - 1), spanW = s.dilationW() * (s.kernelW() - 1);
    int gw = wd + 2 * s.padW() + spanW, size = (h + 2 * s.padH() + spanH + 1) * gw + spanW;
    int len = h * gw, p = outH * outW;
    Parallel.forRange(s.batch() * inC, (long) s.batch() * outC * p * taps, (part, from, to) -> {
      FewChannelConv.Scratch scratch = FewChannelConv.SCRATCH.get();
      float[] padded = scratch.planes(size);
      float[][] rows = scratch.shifted(taps, len);
      float[] acc = scratch.acc(len);
      for (int plane = from; plane < to; plane++) {
        int n = plane / inC, c = plane % inC;
        Arrays.fill(acc, 0, len, 0f);
        for (int o = c * m; o < (c + 1) * m; o++) {
          pad(padded, size, dout, doutOff + (n * outC + o) * p, outH, outW, spanH, spanW, gw);
          shift(rows, padded, gw, s.padH(), s.padW(), len, s, true);
          sumTaps(acc, len, w, wOff + o * taps, rows, taps);
        }
        narrow(acc, gw, dx, dxOff + plane * h * wd, h, wd);
      }
    });
  }

  /**
   * The stride-1 weight gradient by output channel over {@link #flatForward}'s stacks (twenty-fourth session): {@code
   * dw[a, b] = sum over the output places q of g[q] stack[q + a dH rw + b dW]}, the output gradient {@code g} laid out as
   * the forward's output (sample {@code i}'s row {@code oh} at {@code (i sh + oh) rw}, zero in the junk places). With the
   * forward's column copies {@code cols[b][j] = stack[j + b dW]} and {@code g} copied once per kernel row to start at
   * {@code shift = a dH rw} ({@code gRows[a][j] = g[j - shift]}), tap {@code (a, b)}'s terms are {@code gRows[a][j]
   * cols[b][j]} for {@code j} in {@code [shift, shift + len)}: one index, three taps a pass into a row of sums per tap
   * over the channel's chunks, each row added up once at the end (in double). Loops as long as a chunk (8x8 maps eight
   * samples at a time) where the per-plane shifted planes before ran 112 floats.
   */
  private static void flatWeightGradient(float[] dw, int dwOff, float[] dout, int doutOff, float[] x, int xOff, Conv2dShape s,
      boolean accumulate) {
    int outC = s.outChannels(), m = s.groupOutChannels();
    int h = s.height(), wd = s.width(), outH = s.outHeight(), outW = s.outWidth();
    int kh = s.kernelH(), kw = s.kernelW(), taps = kh * kw, p = outH * outW;
    int spanH = s.dilationH() * (kh - 1), spanW = s.dilationW() * (kw - 1);
    int rw = Math.max(wd + s.padW(), outW), sh = Math.max(h + s.padH(), outH);
    int chunk = Math.max(1, Math.min(s.batch(), GRADIENT_STACK_BUDGET / (sh * rw)));
    int most = ((chunk - 1) * sh + outH + spanH) * rw; // a whole chunk's rows: the sums' length
    Parallel.forRange(outC, (long) s.batch() * outC * p * taps, (part, from, to) -> {
      StackScratch scratch = STACK_SCRATCH.get();
      FewChannelConv.Scratch sumsScratch = FewChannelConv.SCRATCH.get();
      for (int o = from; o < to; o++) {
        float[][] sums = sumsScratch.sums(taps, most);
        for (int n0 = 0; n0 < s.batch(); n0 += chunk) {
          int cn = Math.min(chunk, s.batch() - n0);
          int len = ((cn - 1) * sh + outH) * rw, full = len + spanH * rw;
          float[] stack = scratch.stack(full + spanW);
          float[][] cols = scratch.cols(kw, full), gRows = scratch.gradientRows(kh, full);
          stack(stack, full + spanW, x, xOff, null, o / m, n0, cn, s, rw, sh, scratch);
          for (int b = 0; b < kw; b++) {
            System.arraycopy(stack, b * s.dilationW(), cols[b], 0, full);
          }
          float[] g0 = gRows[0];
          Arrays.fill(g0, 0, len, 0f);
          for (int i = 0; i < cn; i++) {
            narrowInverse(dout, doutOff + ((n0 + i) * outC + o) * p, outH, outW, g0, i * sh * rw, rw);
          }
          for (int a = 0; a < kh; a++) {
            int shift = a * s.dilationH() * rw;
            if (a > 0) {
              System.arraycopy(g0, 0, gRows[a], shift, len);
            }
            multiplyAddTaps(sums, a * kw, gRows[a], cols, kw, shift, shift + len);
          }
        }
        for (int t = 0; t < taps; t++) {
          float sum = (float) NormKernels.sum(sums[t], 0, most);
          int at = dwOff + o * taps + t;
          dw[at] = accumulate ? dw[at] + sum : sum;
        }
      }
    });
  }

  /**
   * Floats of one chunk's stacked rows in {@link #flatWeightGradient}: fewer than the forward's, since each tap keeps a
   * row of sums as long as a chunk, added up once per channel (a scalar pass). One thread, 7x7 on [16, 128, 8, 8], [16,
   * 32, 32, 32] and [16, 64, 16, 16], 3x3 on [16, 64, 32, 32], 5x5 on [16, 64, 16, 16] (weight and bias gradients, ms):
   * 128: 2.63, 5.30, 2.73, 2.40, 1.45; 256: 2.38, 4.96, 2.60, 2.22, 1.35; 512: 2.99, 5.47, 2.58, 2.34, 1.39; 1024: 4.32,
   * 4.88, 3.28, 2.24, 1.90; the per-plane shifted planes before: 3.05, 6.26, 3.80, 2.69, 1.87.
   */
  private static final int GRADIENT_STACK_BUDGET = 256;

  /** Copies the {@code rows x cols} map {@code from[at ..]} into {@code to} from {@code start} on, rows {@code pitch} apart. */
  private static void narrowInverse(float[] from, int at, int rows, int cols, float[] to, int start, int pitch) {
    for (int r = 0; r < rows; r++) {
      System.arraycopy(from, at + r * cols, to, start + r * pitch, cols);
    }
  }

  /**
   * {@code sums[first + b][j] += g[j] cols[b][j]} for each {@code b < kw} and {@code j} in {@code [start, end)}, three
   * taps a pass.
   */
  private static void multiplyAddTaps(float[][] sums, int first, float[] g, float[][] cols, int kw, int start, int end) {
    int b = 0;
    for (; b + 3 <= kw; b += 3) {
      float[] acc0 = sums[first + b], acc1 = sums[first + b + 1], acc2 = sums[first + b + 2];
      float[] s0 = cols[b], s1 = cols[b + 1], s2 = cols[b + 2];
      for (int j = start; j < end; j++) {
        float d = g[j];
        acc0[j] += d * s0[j];
        acc1[j] += d * s1[j];
        acc2[j] += d * s2[j];
      }
    }
    for (; b < kw; b++) {
      float[] acc = sums[first + b], s0 = cols[b];
      for (int j = start; j < end; j++) {
        acc[j] += g[j] * s0[j];
      }
    }
  }
}
