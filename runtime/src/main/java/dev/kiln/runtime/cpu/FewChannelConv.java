package dev.kiln.runtime.cpu;

import java.util.Arrays;

/**
 * Direct 3x3 convolutions with stride 1 over few input channels (an image model's first layer: 1 channel for
 * FashionMNIST, 3 for RGB), forward and weight (and bias) gradient, without a matrix product. With
 * {@code K = inC * 9} of 9 to 27 the product behind im2col is thin: most of its time went to moving the unfolded
 * columns and the channel-major output to and from OpenBLAS's native memory (FashionResNet's stem, batch 64, one
 * thread: forward 1.8 ms, weight gradient 2.0 ms, where the multiply-adds alone take some 0.5 ms vectorised).
 *
 * <p>Each sample's input becomes {@code inC * 9} rows, im2col's rows for that sample, each its own array
 * ({@link #shift}). The forward sums an output plane as a kernel row's three terms at a time over whole rows
 * ({@link #taps}), the channels in order and the bias last; the weight gradient keeps a row of sums per output
 * place for each weight and sums it over the places at the end, per output channel, so it does not depend on the
 * threads. Every loop runs over arrays at offset 0 under one index with at most seven arrays: the loops C2 (JDK 17)
 * vectorises (docs/design-notes.md, twentieth session). The input gradient (not needed for a first layer) stays
 * im2col's. {@code -Dkiln.fewchannelconv=false} turns these kernels off, for comparisons.
 */
final class FewChannelConv {
  /** Whether the direct kernels are used where they apply ({@code kiln.fewchannelconv}, default true). */
  static final boolean ENABLED = !"false".equals(System.getProperty("kiln.fewchannelconv"));

  /**
   * Most input channels: the weight gradient keeps {@code inC * 9 + 1} rows of sums per output channel in L1 (28x28
   * maps: 31 KiB for one channel).
   */
  private static final int MAX_IN_CHANNELS = 3;

  /** Floats of padded input planes a sample may hold. */
  private static final int PLANES_BUDGET = 1 << 20;

  /**
   * Floats of shifted input rows one chunk of the weight gradient may hold (256 KiB, 9 of the stem's samples: read
   * from L2 once per output channel).
   */
  private static final int SHIFTED_BUDGET = 1 << 16;

  static final ThreadLocal<Scratch> SCRATCH = ThreadLocal.withInitial(Scratch::new);

  private FewChannelConv() {}

  /** Whether {@link ConvKernels} hands {@code s}'s forward and weight gradient here. */
  static boolean applies(Conv2dShape s) {
    return ENABLED && s.plain() && s.kernelH() == 3 && s.kernelW() == 3 && s.strideH() == 1 && s.strideW() == 1
        && s.inChannels() <= MAX_IN_CHANNELS && s.outWidth() >= 8 && s.batch() > 0
        && (long) s.inChannels() * paddedPlane(s) <= PLANES_BUDGET;
  }

  private static int paddedWidth(Conv2dShape s) {
    return s.width() + 2 * s.padW();
  }

  private static int paddedPlane(Conv2dShape s) {
    return (s.height() + 2 * s.padH()) * paddedWidth(s);
  }

  /** {@link ConvKernels#conv2dForward} for a shape that {@link #applies}. */
  static void forward(float[] out, int outOff, float[] x, int xOff, float[] w, int wOff, float[] bias, int biasOff, Conv2dShape s) {
    int inC = s.inChannels(), outC = s.outChannels(), outH = s.outHeight(), outW = s.outWidth();
    int p = outH * outW;
    // batches smaller than the threads split each sample's output channels too (the same sums either way)
    int groups = Math.min(outC, (Parallel.threads() + s.batch() - 1) / s.batch());
    Parallel.forRange(s.batch() * groups, (long) s.batch() * outC * inC * 9 * p, (part, from, to) -> {
      Scratch scratch = SCRATCH.get();
      float[] xp = scratch.planes(inC * paddedPlane(s));
      float[][] shifted = scratch.shifted(inC * 9, p);
      float[] acc = scratch.acc(p);
      for (int item = from, shiftedSample = -1; item < to; item++) {
        int n = item / groups, group = item % groups;
        if (n != shiftedSample) {
          shift(shifted, 0, xp, x, xOff + n * s.inputSampleSize(), s);
          shiftedSample = n;
        }
        for (int o = group * outC / groups; o < (group + 1) * outC / groups; o++) {
          for (int c = 0; c < inC; c++) {
            int wo = wOff + (o * inC + c) * 9;
            int t = c * 9;
            taps(acc, c > 0, p, w[wo], shifted[t], w[wo + 1], shifted[t + 1], w[wo + 2], shifted[t + 2],
                w[wo + 3], shifted[t + 3], w[wo + 4], shifted[t + 4], w[wo + 5], shifted[t + 5],
                w[wo + 6], shifted[t + 6], w[wo + 7], shifted[t + 7], w[wo + 8], shifted[t + 8]);
          }
          int dst = outOff + (n * outC + o) * p;
          System.arraycopy(acc, 0, out, dst, p);
          if (bias != null) {
            float b = bias[biasOff + o];
            for (int j = dst; j < dst + p; j++) {
              out[j] += b;
            }
          }
        }
      }
    });
  }

  /**
   * {@code acc[q] (+)= w0 s0[q] + ... + w8 s8[q]} for {@code q < len}: one input channel's share of an output
   * plane, a kernel row's three terms at a time ({@code ((w0 s0 + w1 s1 + w2 s2) + (w3 s3 + w4 s4 + w5 s5)) + ...}).
   * Every array at offset 0 under one index, which C2 vectorises: shifted reads of one padded plane
   * ({@code xp[q + a * Wp + b]}) it did not (2x slower than im2col), nor all nine terms in one loop (1.5-3 GFLOP/s of
   * multiply-adds, where three terms run 28-30 on this machine).
   */
  private static void taps(float[] acc, boolean add, int len, float w0, float[] s0, float w1, float[] s1, float w2, float[] s2,
      float w3, float[] s3, float w4, float[] s4, float w5, float[] s5, float w6, float[] s6, float w7, float[] s7,
      float w8, float[] s8) {
    if (add) {
      row(acc, len, w0, s0, w1, s1, w2, s2);
    } else {
      for (int q = 0; q < len; q++) {
        acc[q] = w0 * s0[q] + w1 * s1[q] + w2 * s2[q];
      }
    }
    row(acc, len, w3, s3, w4, s4, w5, s5);
    row(acc, len, w6, s6, w7, s7, w8, s8);
  }

  /** {@code acc[q] += w0 s0[q] + w1 s1[q] + w2 s2[q]} for {@code q < len}. */
  static void row(float[] acc, int len, float w0, float[] s0, float w1, float[] s1, float w2, float[] s2) {
    for (int q = 0; q < len; q++) {
      acc[q] += w0 * s0[q] + w1 * s1[q] + w2 * s2[q];
    }
  }

  /**
   * One sample's input as {@code inC * 9} rows from {@code shifted[at]} on, im2col's rows: row {@code (c, a, b)}
   * place {@code i * outW + j} holds {@code x[c, i - padH + a, j - padW + b]}, 0 in the padding. Copied row by row
   * from zero-padded planes ({@code xp}, scratch).
   */
  private static void shift(float[][] shifted, int at, float[] xp, float[] x, int sample, Conv2dShape s) {
    int h = s.height(), wd = s.width(), wp = paddedWidth(s), plane = paddedPlane(s);
    int outH = s.outHeight(), outW = s.outWidth();
    Arrays.fill(xp, 0, s.inChannels() * plane, 0f);
    for (int c = 0; c < s.inChannels(); c++) {
      for (int i = 0; i < h; i++) {
        System.arraycopy(x, sample + (c * h + i) * wd, xp, c * plane + (i + s.padH()) * wp + s.padW(), wd);
      }
      for (int a = 0, t = at + c * 9; a < 3; a++) {
        for (int b = 0; b < 3; b++, t++) {
          for (int i = 0; i < outH; i++) {
            System.arraycopy(xp, c * plane + (i + a) * wp + b, shifted[t], i * outW, outW);
          }
        }
      }
    }
  }

  /**
   * The weight gradient (and bias gradient unless {@code dbias} is null) of {@link #forward}, overwritten or added
   * to when {@code accumulate}.
   */
  static void weightGradient(float[] dw, int dwOff, float[] dbias, int dbOff, boolean accumulate, float[] dout, int doutOff,
      float[] x, int xOff, Conv2dShape s) {
    int inC = s.inChannels(), outC = s.outChannels(), outH = s.outHeight(), outW = s.outWidth(), k = inC * 9;
    int p = outH * outW;
    int chunk = Math.max(1, Math.min(s.batch(), SHIFTED_BUDGET / (k * p)));
    // one region, its parts splitting the output channels: each builds the samples' rows itself (some 1% of the
    // work twice at two threads), where a region per chunk of samples to share them made the two-thread gradient
    // wait at 16 barriers a call (8 ms against 1.7 at one thread on a loaded machine)
    Parallel.forRange(outC, (long) outC * s.batch() * k * p, (part, from, to) -> {
      Scratch scratch = SCRATCH.get();
      float[][] acc = scratch.sums((to - from) * (k + 1), p); // per output channel, k weights and the bias: sums per place
      float[][] shifted = scratch.samplesShifted(chunk * k, p);
      float[] xp = scratch.planes(inC * paddedPlane(s));
      float[] dy = scratch.gradientRow(p);
      for (int n0 = 0; n0 < s.batch(); n0 += chunk) {
        int cn = Math.min(chunk, s.batch() - n0);
        for (int i = 0; i < cn; i++) {
          shift(shifted, i * k, xp, x, xOff + (n0 + i) * s.inputSampleSize(), s);
        }
        for (int o = from; o < to; o++) {
          int a = (o - from) * (k + 1);
          for (int i = 0; i < cn; i++) {
            System.arraycopy(dout, doutOff + ((n0 + i) * outC + o) * p, dy, 0, p); // to offset 0, for C2's vectoriser
            for (int t = 0, b = i * k; t < k; t += 3) { // a kernel row at a time
              multiplyAdd(acc[a + t], acc[a + t + 1], acc[a + t + 2], dy, shifted[b + t], shifted[b + t + 1], shifted[b + t + 2], p);
            }
            if (dbias != null) {
              add(acc[a + k], dy, p);
            }
          }
        }
      }
      for (int o = from; o < to; o++) {
        int a = (o - from) * (k + 1);
        for (int t = 0; t < k; t++) {
          int at = dwOff + o * k + t;
          float g = (float) NormKernels.sum(acc[a + t], 0, p);
          dw[at] = accumulate ? dw[at] + g : g;
        }
        if (dbias != null) {
          float g = (float) NormKernels.sum(acc[a + k], 0, p);
          dbias[dbOff + o] = accumulate ? dbias[dbOff + o] + g : g;
        }
      }
    });
  }

  /** {@code acc0[q] += dy[q] * s0[q]}, the same for 1 and 2, for {@code q < len}. */
  static void multiplyAdd(float[] acc0, float[] acc1, float[] acc2, float[] dy, float[] s0, float[] s1, float[] s2, int len) {
    for (int q = 0; q < len; q++) {
      float d = dy[q];
      acc0[q] += d * s0[q];
      acc1[q] += d * s1[q];
      acc2[q] += d * s2[q];
    }
  }

  /** {@code acc[q] += dy[q]} for {@code q < len}. */
  private static void add(float[] acc, float[] dy, int len) {
    for (int q = 0; q < len; q++) {
      acc[q] += dy[q];
    }
  }

  /** Per-thread growing work arrays (also {@link GroupedConv}'s depthwise kernels'). */
  static final class Scratch {
    private float[] planes = new float[0];
    private float[] acc = new float[0];
    private float[] gradientRow = new float[0];
    private float[][] shifted = new float[0][];
    private float[][] samplesShifted = new float[0][];
    private float[][] sums = new float[0][];

    float[] planes(int n) {
      return planes.length >= n ? planes : (planes = new float[n]);
    }

    float[] acc(int n) {
      return acc.length >= n ? acc : (acc = new float[n]);
    }

    float[] gradientRow(int n) {
      return gradientRow.length >= n ? gradientRow : (gradientRow = new float[n]);
    }

    /** {@code rows} arrays of at least {@code len} floats: one sample's shifted rows, or the gradient's sums. */
    float[][] shifted(int rows, int len) {
      return shifted = grown(shifted, rows, len);
    }

    /** The shifted rows of a chunk of samples, for the weight gradient. */
    float[][] samplesShifted(int rows, int len) {
      return samplesShifted = grown(samplesShifted, rows, len);
    }

    /** {@code a} with at least {@code rows} arrays of at least {@code len} floats, grown (copied or made) where shorter. */
    static float[][] grown(float[][] a, int rows, int len) {
      if (a.length < rows) {
        a = Arrays.copyOf(a, rows);
      }
      for (int i = 0; i < rows; i++) {
        if (a[i] == null || a[i].length < len) {
          a[i] = new float[len];
        }
      }
      return a;
    }

    /** {@code rows} zeroed arrays of at least {@code len} floats: the weight gradient's sums per place. */
    float[][] sums(int rows, int len) {
      sums = grown(sums, rows, len);
      for (int i = 0; i < rows; i++) {
        Arrays.fill(sums[i], 0, len, 0f);
      }
      return sums;
    }
  }
}
