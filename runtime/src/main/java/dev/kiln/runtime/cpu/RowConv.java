package dev.kiln.runtime.cpu;

import java.nio.FloatBuffer;
import java.util.Arrays;
import org.bytedeco.javacpp.FloatPointer;

/**
 * {@link ConvKernels}' im2col + GEMM for convolutions over one row (height 1, a 1 x k window: {@code conv1d}'s
 * {@code [N, C, 1, L]} view), with OpenBLAS: the columns are unfolded straight into native memory, where the product
 * reads them, instead of into a Java array that {@link Blas#sgemm} then copies there; the forward's product is read
 * back straight into the NCHW output (one copy where there were two). Those copies were a third of the forward's time
 * at the 1-d CNN's sizes (16-64 channels, length 32-128, batch 64: 0.25 of 0.78 ms per product); oneDNN's direct 1-d
 * kernels have no such step.
 *
 * <p>The same chunks of samples and the same OpenBLAS calls on the same values in the same order as
 * {@link ConvKernels}' Java columns: the output and the weight and bias gradients are bit for bit that path's
 * (ConvKernelsTest checks them against the k x 1 convolution over the transposed map, which takes that path).
 */
final class RowConv {
  private static final ThreadLocal<Buffers> BUFFERS = ThreadLocal.withInitial(Buffers::new);

  /**
   * Fewest input channels (the flipped convolution's output channels, its product's rows) for which
   * {@link #inputGradient} is used: at 16 it was 5-20% slower than the columns' path (16 -> 32 channels, kernel 5,
   * length 128), at 32 level to 10% faster, at 64 20-25% faster (docs/benchmarks.md, "1-d CNNs' speed"). Kernels of
   * width 1 (pointwise convolutions' view) take it at any count: their "flipped" filters are the transpose, the same
   * product as the columns' without col2im's pass (the input gradient of 1x1 convolutions over [16, C, 32, 32], one
   * thread: 8 -> 16 channels 0.40 -> 0.12 ms, 16 -> 32 0.92 -> 0.47, 32 -> 64 1.9 -> 1.1).
   */
  static final int FLIPPED_MIN_CHANNELS = 32;

  private RowConv() {}

  /** Whether {@code s} is a one-row convolution and OpenBLAS is in use (the pure-Java product reads Java arrays). */
  static boolean applies(Conv2dShape s) {
    return s.plain() && s.height() == 1 && s.kernelH() == 1 && s.padH() == 0 && Blas.isNative();
  }

  /**
   * {@link ConvKernels#conv2dForward} for shapes that {@link #applies}, in chunks of {@code chunk} samples; the input read
   * through {@code pre} unless it is null (stride 1, no padding: the planes mapped as they are copied).
   */
  static void forward(float[] out, int outOff, float[] x, int xOff, ChannelAffine pre, float[] w, int wOff, float[] bias,
      int biasOff, Conv2dShape s, int chunk) {
    int k = s.patchSize(), p = s.outPlaneSize(), outC = s.outChannels();
    int chunks = (s.batch() + chunk - 1) / chunk;
    Parallel.forRange(chunks, (long) s.batch() * k * p, (part, from, to) -> {
      Buffers nat = BUFFERS.get();
      FloatPointer pw = nat.weight(w, wOff, outC * k);
      for (int n0 = from * chunk; n0 < Math.min(to * chunk, s.batch()); n0 += chunk) {
        int cn = Math.min(chunk, s.batch() - n0);
        int ld = cn * p;
        FloatBuffer cols = nat.cols(k * ld);
        FloatBuffer y = nat.product(outC * ld);
        unfold(cols, x, xOff, n0, cn, s, nat, pre);
        Blas.sgemm(false, false, outC, ld, k, 1f, pw, k, nat.cols, ld, 0f, nat.product, ld);
        for (int i = 0; i < cn; i++) {
          for (int o = 0; o < outC; o++) {
            int dst = outOff + ((n0 + i) * outC + o) * p;
            y.get(o * ld + i * p, out, dst, p);
            if (bias != null) { // as ConvKernels.conv2dForward: the copy, then the bias
              float b = bias[biasOff + o];
              for (int j = dst; j < dst + p; j++) {
                out[j] += b;
              }
            }
          }
        }
      }
    });
  }

  /**
   * The weight and bias gradients of {@link ConvKernels#conv2dBackward} for shapes that {@link #applies}:
   * {@code dwParts} and {@code dbParts} (either null when not wanted) are the per-part sums the caller adds up; the
   * weight's sums stay in native memory over a part's chunks. (The input gradient keeps {@link ConvKernels}' Java
   * columns: its product read back and folded from native memory measured 5-20% slower.)
   */
  static void weightGradient(float[][] dwParts, float[][] dbParts, float[] dout, int doutOff, float[] x, int xOff,
      Conv2dShape s, int chunk) {
    int k = s.patchSize(), p = s.outPlaneSize(), outC = s.outChannels();
    int chunks = (s.batch() + chunk - 1) / chunk;
    Parallel.forRange(chunks, (long) s.batch() * k * p, (part, from, to) -> {
      Buffers nat = BUFFERS.get();
      float[] dwPart = dwParts == null ? null : dwParts[part];
      float[] dbPart = dbParts == null ? null : dbParts[part];
      FloatPointer pdw = dwPart == null ? null : nat.weightGradient(dwPart, outC * k);
      for (int n0 = from * chunk; n0 < Math.min(to * chunk, s.batch()); n0 += chunk) {
        int cn = Math.min(chunk, s.batch() - n0);
        int ld = cn * p;
        float[] dy = nat.channelMajor(outC * ld);
        ConvKernels.toChannelMajor(dy, dout, doutOff, dbPart, n0, cn, outC, p);
        if (pdw != null) {
          nat.product(outC * ld);
          nat.product.put(dy, 0, outC * ld);
          unfold(nat.cols(k * ld), x, xOff, n0, cn, s, nat, null);
          Blas.sgemm(false, true, outC, k, ld, 1f, nat.product, ld, nat.cols, ld, 1f, pdw, k);
        }
      }
      if (pdw != null) {
        pdw.get(dwPart, 0, outC * k);
      }
    });
  }

  /**
   * The input gradient of a stride-1 one-row convolution as the forward convolution of {@code dout} with the filters
   * flipped and transposed ({@code w'[c, o, b] = w[o, c, kW-1-b]}) and padding {@code kW-1-padW}: {@code dx[n, c, l] =
   * sum over o, b of w[o, c, b] * dout[n, o, l + padW - b]}, one product over {@code (o, b)} and no fold (col2im's pass
   * over {@code K} rows of columns read back from native memory). The sum's
   * order differs from the columns' path (each o's product, then the kernel offsets), so the bits may too: checked
   * against float64 loops (ConvKernelsTest); with a 1x1 kernel (a pointwise convolution's view) it is the columns'
   * product {@code W^T dY} over the same o, but OpenBLAS reads the transposed copy where the columns' call had it
   * transpose {@code W}, and its sums differ in the last bit at some sizes (31 -> 33 channels; 32 -> 64, 64 -> 128 and 40
   * -> 24 came out the same). Chunks of {@code budget} floats of columns
   * ({@link ConvKernels#chunkSize(Conv2dShape, int)}). Returns false, writing nothing, where it does not apply (stride 2
   * or more, padding of {@code kW} or more, fewer than {@link #FLIPPED_MIN_CHANNELS} input channels and a kernel wider
   * than 1).
   */
  static boolean inputGradient(float[] dx, int dxOff, float[] dout, int doutOff, float[] w, int wOff, Conv2dShape s,
      int budget) {
    int kw = s.kernelW(), inC = s.inChannels(), outC = s.outChannels();
    if (s.strideW() != 1 || s.padW() > kw - 1 || inC < FLIPPED_MIN_CHANNELS && kw > 1) {
      return false;
    }
    Buffers nat = BUFFERS.get();
    float[] flipped = nat.flipped(inC * outC * kw);
    for (int o = 0; o < outC; o++) {
      for (int c = 0; c < inC; c++) {
        for (int b = 0; b < kw; b++) {
          flipped[(c * outC + o) * kw + kw - 1 - b] = w[wOff + (o * inC + c) * kw + b];
        }
      }
    }
    Conv2dShape t = new Conv2dShape(s.batch(), outC, 1, s.outWidth(), inC, 1, kw, 1, 1, 0, kw - 1 - s.padW());
    forward(dx, dxOff, dout, doutOff, null, flipped, 0, null, 0, t, ConvKernels.chunkSize(t, budget));
    return true;
  }

  /**
   * {@link ConvKernels#im2col} into native {@code cols[K, cn*P]}: row {@code c * kW + b}, column {@code (i, ow)} holds
   * {@code x[n0+i, c, 0, ow*sW - pW + b]}, or 0 in the padding; each row's inside part one bulk copy at stride 1.
   */
  private static void unfold(FloatBuffer cols, float[] x, int xOff, int n0, int cn, Conv2dShape s, Buffers nat,
      ChannelAffine pre) {
    int wd = s.width(), outW = s.outWidth(), sw = s.strideW(), pw = s.padW(), kw = s.kernelW();
    int ld = cn * outW;
    if (pre != null && (sw != 1 || pw != 0)) {
      throw new IllegalArgumentException("RowConv reads through a channel map only at stride 1 without padding, got " + s);
    }
    float[] row = sw == 1 && pre == null ? null : nat.row(Math.max(outW, wd));
    for (int i = 0; i < cn; i++) {
      int sample = xOff + (n0 + i) * s.inputSampleSize();
      for (int c = 0; c < s.inChannels(); c++) {
        int plane = sample + c * wd;
        for (int b = 0; b < kw; b++) {
          int lo = ConvKernels.firstInside(b, sw, pw, outW), hi = Math.max(lo, ConvKernels.endInside(b, sw, pw, wd, outW));
          int dst = (c * kw + b) * ld + i * outW;
          zero(cols, dst, dst + lo);
          int src = plane - pw + b;
          if (hi == lo) {
            // only padding under this kernel offset: nothing to copy (src + lo may be before the array)
          } else if (pre != null) {
            pre.apply(row, 0, x, src + lo, hi - lo, c);
            cols.put(dst + lo, row, 0, hi - lo);
          } else if (sw == 1) {
            cols.put(dst + lo, x, src + lo, hi - lo);
          } else {
            for (int ow = lo; ow < hi; ow++) {
              row[ow] = x[src + ow * sw];
            }
            cols.put(dst + lo, row, lo, hi - lo);
          }
          zero(cols, dst + hi, dst + outW);
        }
      }
    }
  }

  private static final float[] ZEROS = new float[256];

  private static void zero(FloatBuffer to, int from, int end) {
    for (int at = from; at < end; at += ZEROS.length) {
      to.put(at, ZEROS, 0, Math.min(ZEROS.length, end - at));
    }
  }

  /** One thread's native columns, product and weight, grown to the largest chunk seen and then reused. */
  private static final class Buffers {
    FloatPointer cols;
    FloatPointer product;
    private FloatPointer weight;
    private FloatPointer weightGradient;
    private FloatBuffer colsView;
    private FloatBuffer productView;
    private float[] channelMajor = new float[0];
    private float[] row = new float[0];
    private float[] flipped = new float[0];

    FloatBuffer cols(int n) {
      if (cols == null || cols.capacity() < n) {
        cols = grown(cols, n);
        colsView = cols.asBuffer();
      }
      return colsView;
    }

    FloatBuffer product(int n) {
      if (product == null || product.capacity() < n) {
        product = grown(product, n);
        productView = product.asBuffer();
      }
      return productView;
    }

    /** The weight {@code w[wOff ..]}, {@code len} floats, copied to native memory. */
    FloatPointer weight(float[] w, int wOff, int len) {
      return weight = Blas.toNative(weight, w, wOff, len);
    }

    /** A part's weight gradient, copied to native memory, where the products add to it. */
    FloatPointer weightGradient(float[] dw, int len) {
      return weightGradient = Blas.toNative(weightGradient, dw, 0, len);
    }

    float[] channelMajor(int n) {
      return channelMajor = atLeast(channelMajor, n);
    }

    /** {@link #inputGradient}'s flipped filters; a Java copy per call ({@link #forward} stages it). */
    float[] flipped(int n) {
      return flipped = atLeast(flipped, n);
    }

    float[] row(int n) {
      return row = atLeast(row, n);
    }

    /** {@code a}, or a new array when it holds fewer than {@code n} floats. */
    private static float[] atLeast(float[] a, int n) {
      return a.length < n ? new float[n] : a;
    }

    private static FloatPointer grown(FloatPointer p, long n) {
      if (p != null) {
        p.close();
      }
      return new FloatPointer(Math.max(n, 1 << 16));
    }
  }
}
