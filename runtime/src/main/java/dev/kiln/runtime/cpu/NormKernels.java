package dev.kiln.runtime.cpu;

import java.util.Arrays;

/**
 * Batch-normalisation kernels over raw row-major arrays. The input is seen as {@code [N, C, L]}:
 * {@code L = 1} for {@code [N, C]} (BatchNorm1d) and {@code L = H*W} for {@code [N, C, H, W]}
 * (BatchNorm2d), so element {@code (i, c, j)} sits at {@code (i*C + c)*L + j}. Statistics are
 * per channel {@code c}, over the {@code N*L} values of that channel. As in {@link CpuKernels},
 * backward kernels take gradients out first, then the incoming gradient, then saved values, and
 * overwrite their outputs.
 */
public final class NormKernels {
  private NormKernels() {}

  /**
   * The batch mean and the biased batch variance (divided by {@code N*L}) of each channel:
   * {@code mean[c]}, {@code var[c]} for {@code c < C}, {@code N >= 1}. Long rows (BatchNorm2d on maps
   * of 128 values or more) take one pass over the values shifted by the channel's first one; short
   * rows (BatchNorm1d, small maps) two passes (the mean of the values less the first sample's, then
   * squared deviations).
   */
  public static void batchStatistics(float[] mean, int meanOff, float[] var, int varOff, float[] x, int xOff, int n, int c, int l) {
    double count = (double) n * l;
    Parallel.forRange(c, 2L * n * c * l, (part, lo, hi) -> {
      if (l >= LONG_ROWS) {
        double[] sums = new double[2];
        Rows rows = ROWS.get();
        for (int ch = lo; ch < hi; ch++) {
          // one pass over x - k, k the channel's first value: the shifted-data form of
          // E[x^2] - E[x]^2, which stays accurate when the mean is large against the spread
          float k = x[xOff + ch * l];
          sums[0] = 0;
          sums[1] = 0;
          for (int seg = 0; seg < l; seg += SEGMENT) {
            int len = Math.min(SEGMENT, l - seg);
            float[] row = rows.get(0, len), s = rows.zeroed(1, len), q = rows.zeroed(2, len);
            for (int i = 0; i < n; i++) {
              System.arraycopy(x, xOff + (i * c + ch) * l + seg, row, 0, len);
              addShifted(s, q, row, k, len);
              if ((i + 1) % SAMPLES_IN_FLOAT == 0 || i == n - 1) {
                flush(s, q, len, sums);
              }
            }
          }
          double shiftedMean = sums[0] / count;
          mean[meanOff + ch] = (float) (k + shiftedMean);
          var[varOff + ch] = (float) Math.max(0.0, sums[1] / count - shiftedMean * shiftedMean);
        }
        return;
      }
      int c0 = lo, c1 = hi;
      int width = (c1 - c0) * l;
      Rows rows = ROWS.get();
      float[] acc = rows.zeroed(0, width);
      float[] row = rows.get(ROW, width);
      float[] firstRow = rows.get(FIRST_ROW, width);
      int first = xOff + c0 * l; // the first sample's row: the sums are of x less it, which stay small
      System.arraycopy(x, first, firstRow, 0, width);
      for (int i = 1; i < n; i++) {
        addDifference(acc, x, xOff + (i * c + c0) * l, firstRow, row, width);
      }
      float[] mu = rows.get(1, width);
      for (int ch = c0; ch < c1; ch++) {
        int from = (ch - c0) * l;
        double shifted = (n * sum(x, first + from, l) + sum(acc, from, l)) / count;
        float m = (float) (Double.isFinite(shifted) ? shifted : plainMean(x, xOff, n, c, ch, l)); // an infinite first value
        mean[meanOff + ch] = m;
        Arrays.fill(mu, from, from + l, m);
      }
      Arrays.fill(acc, 0, width, 0f);
      for (int i = 0; i < n; i++) {
        addSquaredDeviations(acc, x, xOff + (i * c + c0) * l, mu, row, width);
      }
      for (int ch = c0; ch < c1; ch++) {
        var[varOff + ch] = (float) (sum(acc, (ch - c0) * l, l) / count);
      }
    });
  }

  // Short rows (BatchNorm1d, L = 1, and maps of fewer than LONG_ROWS values): the reductions over
  // a channel's N*L values are element-wise sums over the N samples' rows of a part's channels
  // (acc[t] += x[i, t], running along the channels), then one short reduction per channel over its
  // L sums, in double. Per-channel factors are spread into rows of the part's width first, so the
  // element-wise loops have no per-channel inner loop, and each sample's row is copied to scratch at
  // offset 0 first, so that C2 vectorises them (over the rows in place, at runtime offsets, it did
  // not). Parts of channels are {@link Parallel}'s.

  private static final ThreadLocal<Rows> ROWS = ThreadLocal.withInitial(Rows::new);

  /** {@link Rows} slots of the short rows' copies at offset 0: an input row, a gradient row, the first sample's row. */
  private static final int ROW = 8, G_ROW = 9, FIRST_ROW = 10;

  /** Channel {@code ch}'s mean added straight, where the shifted sum is not finite: inf stays inf, as PyTorch's. */
  private static double plainMean(float[] x, int xOff, int n, int c, int ch, int l) {
    double s = 0;
    for (int i = 0; i < n; i++) {
      s += sum(x, xOff + (i * c + ch) * l, l);
    }
    return s / ((double) n * l);
  }

  /**
   * {@code acc[t] += x[off + t] - firstRow[t]}: a sum shifted by the first sample, accurate far from
   * zero. The row is copied to {@code row} first, as in all the short rows' loops: over arrays at
   * offset 0 with one index C2 vectorises them.
   */
  private static void addDifference(float[] acc, float[] x, int off, float[] firstRow, float[] row, int len) {
    System.arraycopy(x, off, row, 0, len);
    for (int t = 0; t < len; t++) {
      acc[t] += row[t] - firstRow[t];
    }
  }

  /** Sum of {@code a[off, off+len)} in double; also the convolution's bias gradient. */
  static double sum(float[] a, int off, int len) {
    float s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    int j = 0;
    for (; j + 3 < len; j += 4) {
      s0 += a[off + j];
      s1 += a[off + j + 1];
      s2 += a[off + j + 2];
      s3 += a[off + j + 3];
    }
    for (; j < len; j++) {
      s0 += a[off + j];
    }
    return (double) s0 + s1 + s2 + s3;
  }

  /**
   * The forward's per-value factors for channels {@code [c0, c1)}: {@code bn(x) = x * scale + shift},
   * spread over rows of {@code (c1 - c0) * l}. One place, so that the backward recomputes the
   * forward's ReLU decisions bit for bit.
   */
  private static void forwardFactors(
      float[] scale, float[] shift, int c0, int c1, int l, float[] mean, int meanOff, float[] var, int varOff,
      float[] weight, int wOff, float[] bias, int bOff, double eps) {
    for (int ch = c0; ch < c1; ch++) {
      int from = (ch - c0) * l;
      Arrays.fill(scale, from, from + l, scaleOf(ch, var, varOff, weight, wOff, eps));
      Arrays.fill(shift, from, from + l, shiftOf(ch, mean, meanOff, var, varOff, weight, wOff, bias, bOff, eps));
    }
  }

  /**
   * The evaluation batch norm's factors per channel, {@code bn(x) = x * scale[ch] + shift[ch]}: those {@link
   * #batchNormForward} uses, for a convolution that applies them to its input as it reads it ({@link ChannelAffine}).
   * {@code weight} and {@code bias} may be null.
   */
  static void batchNormFactors(float[] scale, float[] shift, float[] mean, float[] var, float[] weight, float[] bias, int c,
      double eps) {
    for (int ch = 0; ch < c; ch++) {
      scale[ch] = scaleOf(ch, var, 0, weight, 0, eps);
      shift[ch] = shiftOf(ch, mean, 0, var, 0, weight, 0, bias, 0, eps);
    }
  }

  /** Channel {@code ch}'s {@code weight / sqrt(var + eps)}. */
  private static float scaleOf(int ch, float[] var, int varOff, float[] weight, int wOff, double eps) {
    double rstd = 1.0 / Math.sqrt(var[varOff + ch] + eps);
    return (float) ((weight == null ? 1.0 : weight[wOff + ch]) * rstd);
  }

  /** Channel {@code ch}'s {@code bias - mean * weight / sqrt(var + eps)}. */
  private static float shiftOf(
      int ch, float[] mean, int meanOff, float[] var, int varOff, float[] weight, int wOff, float[] bias, int bOff, double eps) {
    double rstd = 1.0 / Math.sqrt(var[varOff + ch] + eps);
    double w = weight == null ? 1.0 : weight[wOff + ch];
    return (float) ((bias == null ? 0.0 : bias[bOff + ch]) - mean[meanOff + ch] * w * rstd);
  }

  // The row loops. Each pass over a batch's activations costs (6.4 MB a tensor for the first CNN
  // block at batch 64, and C2 vectorises these multi-array loops poorly), which is why ReLU and
  // pooling are folded into the batch-norm passes rather than run as passes of their own.

  private static void addSquaredDeviations(float[] acc, float[] x, int off, float[] mu, float[] row, int len) {
    System.arraycopy(x, off, row, 0, len);
    for (int t = 0; t < len; t++) {
      float d = row[t] - mu[t];
      acc[t] += d * d;
    }
  }

  private static void scaleShiftRow(float[] out, int o, float[] x, int xi, float[] scale, float[] shift, float[] row, int len) {
    System.arraycopy(x, xi, row, 0, len);
    for (int t = 0; t < len; t++) {
      row[t] = row[t] * scale[t] + shift[t];
    }
    System.arraycopy(row, 0, out, o, len);
  }

  private static void scaleShiftReluRow(float[] out, int o, float[] x, int xi, float[] scale, float[] shift, float[] row, int len) {
    System.arraycopy(x, xi, row, 0, len);
    for (int t = 0; t < len; t++) {
      row[t] = Math.max(row[t] * scale[t] + shift[t], 0f);
    }
    System.arraycopy(row, 0, out, o, len);
  }

  // The backward sums g * (x - mean) rather than g * x less mean * sum(g): the centred form does not
  // cancel when the mean is large against the spread (x = 1000 +- 0.1 gave a weight gradient 25x
  // less accurate than PyTorch's; now alike); the same for dx's (x - mean) term.

  private static void sumRows(
      float[] accG, float[] accGX, float[] g, int gi, float[] x, int xi, float[] mu, float[] gRow, float[] xRow, int len) {
    System.arraycopy(g, gi, gRow, 0, len);
    System.arraycopy(x, xi, xRow, 0, len);
    for (int t = 0; t < len; t++) {
      float v = gRow[t];
      accG[t] += v;
      accGX[t] += v * (xRow[t] - mu[t]);
    }
  }

  /** {@link #sumRows} of {@code g} masked by the forward's ReLU, {@code x * scale + shift > 0}. */
  private static void sumMaskedRows(
      float[] accG, float[] accGX, float[] g, int gi, float[] x, int xi, float[] mu, float[] scale, float[] shift,
      float[] gRow, float[] xRow, int len) {
    maskedRows(g, gi, x, xi, scale, shift, gRow, xRow, len);
    for (int t = 0; t < len; t++) {
      float xv = xRow[t];
      float v = gRow[t];
      accG[t] += v;
      accGX[t] += v * (xv - mu[t]);
    }
  }

  private static void inputGradientRow(
      float[] dx, int o, float[] a, float[] g, int gi, float[] b, float[] x, int xi, float[] mu, float[] k,
      float[] gRow, float[] xRow, int len) {
    System.arraycopy(g, gi, gRow, 0, len);
    System.arraycopy(x, xi, xRow, 0, len);
    for (int t = 0; t < len; t++) {
      xRow[t] = a[t] * gRow[t] + b[t] * (xRow[t] - mu[t]) + k[t];
    }
    System.arraycopy(xRow, 0, dx, o, len);
  }

  /**
   * Copies {@code g} and {@code x} rows to {@code gRow} and {@code xRow}, {@code g} masked by the
   * forward's ReLU: a loop of its own, since C2 left the masked sums (seven arrays) scalar.
   */
  private static void maskedRows(
      float[] g, int gi, float[] x, int xi, float[] scale, float[] shift, float[] gRow, float[] xRow, int len) {
    System.arraycopy(g, gi, gRow, 0, len);
    System.arraycopy(x, xi, xRow, 0, len);
    for (int t = 0; t < len; t++) {
      gRow[t] *= CpuKernels.positive(xRow[t] * scale[t] + shift[t]);
    }
  }

  private static void maskedInputGradientRow(
      float[] dx, int o, float[] a, float[] g, int gi, float[] b, float[] x, int xi, float[] mu, float[] k, float[] scale,
      float[] shift, float[] gRow, float[] xRow, int len) {
    maskedRows(g, gi, x, xi, scale, shift, gRow, xRow, len);
    for (int t = 0; t < len; t++) {
      xRow[t] = a[t] * gRow[t] + b[t] * (xRow[t] - mu[t]) + k[t];
    }
    System.arraycopy(xRow, 0, dx, o, len);
  }

  // Long rows (BatchNorm2d: L = H*W of at least LONG_ROWS) go channel by channel with scalar
  // factors. Their element-wise passes index the input and output with one variable when both
  // sit at the same offset (the usual case), so C2 vectorises them; their sums go through scratch
  // rows at offset 0 (below). Short rows (BatchNorm1d: L = 1) use the row accumulators, which run
  // along channels instead.

  /**
   * Row length from which the per-channel kernels are used: their vector loops (16 floats a vector,
   * unrolled) run scalar on shorter rows. 7x7 maps ([64, 64, 49], one thread) took 0.07 ms for the
   * statistics and 0.27 for the backward with ReLU on the row accumulators, 0.18 and 0.78 channel by
   * channel; 14x14 maps 0.12 and 0.46 channel by channel, 0.17 and 0.62 on the row accumulators.
   */
  private static final int LONG_ROWS = 128;

  // The long rows' sums go position by position: a row (or a segment of one) is copied to scratch
  // at offset 0, where C2 vectorises the loops that add it into per-position float sums ({@code
  // s[t] += x[t] - k}); those are added in double every SAMPLES_IN_FLOAT samples, then summed per
  // channel in double. Until the sixteenth session each row was summed in four scalar float chains
  // (loops over arrays at runtime offsets are scalar in JDK 17): 3x the time.

  /** Positions a long row's sums take at once: a longer row goes in segments, so the scratch stays in L1. */
  private static final int SEGMENT = 1024;

  /** Samples summed in float at one position before the sums go on in double. */
  private static final int SAMPLES_IN_FLOAT = 32;

  /** {@code s[t] += row[t] - k}, {@code q[t] += (row[t] - k)^2} for {@code t < len}. */
  private static void addShifted(float[] s, float[] q, float[] row, float k, int len) {
    for (int t = 0; t < len; t++) {
      float d = row[t] - k;
      s[t] += d;
      q[t] += d * d;
    }
  }

  /** Adds the sums of {@code s[0, len)} and {@code q[0, len)} to {@code sums[0]} and {@code sums[1]}, then zeroes them. */
  private static void flush(float[] s, float[] q, int len, double[] sums) {
    sums[0] += sum(s, 0, len);
    sums[1] += sum(q, 0, len);
    Arrays.fill(s, 0, len, 0f);
    Arrays.fill(q, 0, len, 0f);
  }

  /**
   * {@code accG[t] += g[t]}, {@code accGX[t] += g[t] * (x[t] - mu)}, {@code g} (a scratch copy) first
   * masked by the forward's ReLU when {@code relu}.
   */
  private static void addGradientSums(
      float[] accG, float[] accGX, float[] g, float[] x, int len, boolean relu, float scale, float shift, float mu) {
    if (relu) { // the mask in a loop of its own, as maskedRows
      for (int t = 0; t < len; t++) {
        g[t] *= CpuKernels.positive(x[t] * scale + shift);
      }
    }
    for (int t = 0; t < len; t++) {
      float v = g[t];
      accG[t] += v;
      accGX[t] += v * (x[t] - mu);
    }
  }

  static void normaliseRow(float[] out, int o, float[] x, int xi, float scale, float shift, int len, boolean relu) {
    if (o == xi) { // one index, which C2 vectorises (with two offsets the loop is scalar: 4x slower)
      if (relu) {
        for (int t = o; t < o + len; t++) {
          out[t] = Math.max(x[t] * scale + shift, 0f);
        }
      } else {
        for (int t = o; t < o + len; t++) {
          out[t] = x[t] * scale + shift;
        }
      }
      return;
    }
    if (relu) {
      for (int t = 0; t < len; t++) {
        out[o + t] = Math.max(x[xi + t] * scale + shift, 0f);
      }
    } else {
      for (int t = 0; t < len; t++) {
        out[o + t] = x[xi + t] * scale + shift;
      }
    }
  }

  /** {@code dx = a * g + b * (x - mu) + k} over a row, {@code g} masked by the forward's ReLU when {@code relu}. */
  private static void inputGradientRow(
      float[] dx, int o, float a, float[] g, int gi, float b, float[] x, int xi, float mu, float k, int len, boolean relu,
      float scale, float shift) {
    if (o == gi && gi == xi) { // one index, vectorised (as normaliseRow)
      if (relu) {
        for (int t = o; t < o + len; t++) {
          float xv = x[t];
          dx[t] = a * (g[t] * CpuKernels.positive(xv * scale + shift)) + b * (xv - mu) + k;
        }
      } else {
        for (int t = o; t < o + len; t++) {
          dx[t] = a * g[t] + b * (x[t] - mu) + k;
        }
      }
      return;
    }
    if (relu) {
      for (int t = 0; t < len; t++) {
        float xv = x[xi + t];
        dx[o + t] = a * (g[gi + t] * CpuKernels.positive(xv * scale + shift)) + b * (xv - mu) + k;
      }
    } else {
      for (int t = 0; t < len; t++) {
        dx[o + t] = a * g[gi + t] + b * (x[xi + t] - mu) + k;
      }
    }
  }

  /** Per-thread rows of a block's width, reused between calls. */
  private static final class Rows {
    private final float[][] rows = new float[11][0];

    float[] get(int which, int width) {
      if (rows[which].length < width) {
        rows[which] = new float[width];
      }
      return rows[which];
    }

    float[] zeroed(int which, int width) {
      float[] r = get(which, width);
      Arrays.fill(r, 0, width, 0f);
      return r;
    }
  }

  /**
   * Moves the running statistics towards a batch's, in place, as PyTorch does:
   * {@code running = (1 - momentum) * running + momentum * batch}, where the batch variance is
   * made unbiased ({@code var * count / (count - 1)}) first.
   *
   * @param var the biased batch variance from {@link #batchStatistics}
   * @param count values per channel in the batch ({@code N*L}), at least 2
   */
  public static void updateRunningStatistics(
      float[] runningMean, int rmOff, float[] runningVar, int rvOff, float[] mean, int meanOff, float[] var, int varOff,
      int c, int count, double momentum) {
    double unbias = (double) count / (count - 1);
    for (int ch = 0; ch < c; ch++) {
      runningMean[rmOff + ch] = (float) ((1 - momentum) * runningMean[rmOff + ch] + momentum * mean[meanOff + ch]);
      runningVar[rvOff + ch] = (float) ((1 - momentum) * runningVar[rvOff + ch] + momentum * var[varOff + ch] * unbias);
    }
  }

  /**
   * {@code out = (x - mean[c]) / sqrt(var[c] + eps) * weight[c] + bias[c]}, with the batch's
   * statistics in training and the running ones in evaluation. {@code weight} and {@code bias}
   * may be null (no affine transform: 1 and 0). {@code out} may be {@code x}.
   */
  public static void batchNormForward(
      float[] out, int outOff, float[] x, int xOff, float[] mean, int meanOff, float[] var, int varOff,
      float[] weight, int wOff, float[] bias, int bOff, int n, int c, int l, double eps) {
    normalise(out, outOff, x, xOff, mean, meanOff, var, varOff, weight, wOff, bias, bOff, n, c, l, eps, false);
  }

  /** {@link #batchNormForward} followed by ReLU, in one pass: {@code out = max(0, bn(x))}. */
  public static void batchNormReluForward(
      float[] out, int outOff, float[] x, int xOff, float[] mean, int meanOff, float[] var, int varOff,
      float[] weight, int wOff, float[] bias, int bOff, int n, int c, int l, double eps) {
    normalise(out, outOff, x, xOff, mean, meanOff, var, varOff, weight, wOff, bias, bOff, n, c, l, eps, true);
  }

  private static void normalise(
      float[] out, int outOff, float[] x, int xOff, float[] mean, int meanOff, float[] var, int varOff,
      float[] weight, int wOff, float[] bias, int bOff, int n, int c, int l, double eps, boolean relu) {
    Parallel.forRange(c, (long) n * c * l, (part, lo, hi) -> {
      if (l >= LONG_ROWS) {
        for (int ch = lo; ch < hi; ch++) {
          float sc = scaleOf(ch, var, varOff, weight, wOff, eps);
          float sh = shiftOf(ch, mean, meanOff, var, varOff, weight, wOff, bias, bOff, eps);
          for (int i = 0; i < n; i++) {
            int at = (i * c + ch) * l;
            normaliseRow(out, outOff + at, x, xOff + at, sc, sh, l, relu);
          }
        }
        return;
      }
      int c0 = lo, c1 = hi;
      int width = (c1 - c0) * l;
      Rows rows = ROWS.get();
      float[] scale = rows.get(0, width);
      float[] shift = rows.get(1, width);
      float[] row = rows.get(ROW, width);
      forwardFactors(scale, shift, c0, c1, l, mean, meanOff, var, varOff, weight, wOff, bias, bOff, eps);
      for (int i = 0; i < n; i++) {
        int o = outOff + (i * c + c0) * l;
        int xi = xOff + (i * c + c0) * l;
        if (relu) {
          scaleShiftReluRow(out, o, x, xi, scale, shift, row, width);
        } else {
          scaleShiftRow(out, o, x, xi, scale, shift, row, width);
        }
      }
    });
  }

  /**
   * {@link #batchNormReluForward} then {@link ConvKernels#maxPool2dForward} with 2x2 windows at
   * stride 2, in one pass that never writes the normalised map: each window's four values are
   * normalised, clamped at 0 and reduced at once. Outputs and argmax are bit for bit those of
   * the two kernels in a row (same float operations, same first-maximum rule; only with a NaN in
   * a window may argmax name another element, the output being NaN either way). The pooling must
   * be the plain 2x2 one: kernel 2, stride 2, no padding, every window inside the input.
   *
   * @param out the pooled output, {@code [batch, channels, H/2, W/2]}
   * @param argmax as {@link ConvKernels#maxPool2dForward} writes it
   * @param x {@code [batch, channels, H, W]}
   * @throws IllegalArgumentException when the pooling is not the plain 2x2 one
   */
  public static void batchNormReluMaxPool2x2(
      float[] out, int outOff, int[] argmax, float[] x, int xOff, float[] mean, int meanOff, float[] var, int varOff,
      float[] weight, int wOff, float[] bias, int bOff, double eps, Pool2dShape s) {
    if (!ConvKernels.isPlainTwoByTwo(s)) {
      throw new IllegalArgumentException("batchNormReluMaxPool2x2 needs 2x2 windows at stride 2 without padding, got " + s);
    }
    int c = s.channels(), h = s.height(), wd = s.width(), outH = s.outHeight(), outW = s.outWidth();
    int planes = s.batch() * c;
    Parallel.forRange(planes, (long) planes * h * wd, (part, from, to) -> {
      float[] y = ROWS.get().get(0, h * wd);
      for (int pl = from; pl < to; pl++) {
        int ch = pl % c;
        float sc = scaleOf(ch, var, varOff, weight, wOff, eps);
        float sh = shiftOf(ch, mean, meanOff, var, varOff, weight, wOff, bias, bOff, eps);
        // the plane normalised and clamped in scratch at offset 0, in a loop C2 vectorises; the
        // windows' strided reads then find their values there, as keys (ConvKernels.maxPool2x2OfNonNegative)
        System.arraycopy(x, xOff + pl * h * wd, y, 0, h * wd);
        for (int t = 0; t < h * wd; t++) {
          y[t] = Math.max(y[t] * sc + sh, 0f);
        }
        ConvKernels.maxPool2x2OfNonNegative(out, outOff, argmax, pl * outH * outW, y, wd, outH, outW);
      }
    });
  }

  /**
   * Gradients of {@link #batchNormForward}. With {@code throughStatistics} (training: the mean and
   * variance were computed from this batch) the input gradient includes their dependence on x:
   * {@code dx = w * rstd * (dout - mean(dout) - xhat * mean(dout * xhat))}, means over the
   * channel's {@code N*L} values; without it (evaluation: fixed running statistics)
   * {@code dx = w * rstd * dout}. Always {@code dweight[c] = sum(dout * xhat)} and
   * {@code dbias[c] = sum(dout)}. Any of {@code dx}, {@code dweight}, {@code dbias} may be null
   * (not wanted), and {@code weight} may be null (no affine transform). {@code dx} may be
   * {@code dout}.
   */
  public static void batchNormBackward(
      float[] dx, int dxOff, float[] dweight, int dwOff, float[] dbias, int dbOff, float[] dout, int dOff,
      float[] x, int xOff, float[] mean, int meanOff, float[] var, int varOff, float[] weight, int wOff,
      int n, int c, int l, double eps, boolean throughStatistics) {
    gradients(dx, dxOff, dweight, dwOff, dbias, dbOff, dout, dOff, false, null, 0, x, xOff, mean, meanOff, var, varOff,
        weight, wOff, n, c, l, eps, throughStatistics);
  }

  /**
   * Gradients of {@link #batchNormReluForward}: {@link #batchNormBackward} of
   * {@code dout * (y > 0)}. The ReLU's mask is recomputed from {@code x} with the forward's own
   * float factors ({@code x * scale + shift > 0} exactly when the forward's output was positive),
   * inside the batch-norm passes: no pass of its own and no read of the forward's output, whose
   * traffic these memory-bound passes would otherwise pay for. {@code bias} may be null (no affine
   * transform), as in the forward. {@code dout} is not changed.
   */
  public static void batchNormReluBackward(
      float[] dx, int dxOff, float[] dweight, int dwOff, float[] dbias, int dbOff, float[] dout, int dOff,
      float[] x, int xOff, float[] mean, int meanOff, float[] var, int varOff,
      float[] weight, int wOff, float[] bias, int bOff, int n, int c, int l, double eps, boolean throughStatistics) {
    gradients(dx, dxOff, dweight, dwOff, dbias, dbOff, dout, dOff, true, bias, bOff, x, xOff, mean, meanOff, var, varOff,
        weight, wOff, n, c, l, eps, throughStatistics);
  }

  private static void gradients(
      float[] dx, int dxOff, float[] dweight, int dwOff, float[] dbias, int dbOff, float[] dout, int dOff,
      boolean relu, float[] bias, int bOff, float[] x, int xOff, float[] mean, int meanOff, float[] var, int varOff,
      float[] weight, int wOff, int n, int c, int l, double eps, boolean throughStatistics) {
    double count = (double) n * l;
    Parallel.forRange(c, 3L * n * c * l, (part, lo, hi) -> {
      if (l >= LONG_ROWS) {
        double[] sums = new double[2];
        Rows rows = ROWS.get();
        for (int ch = lo; ch < hi; ch++) {
          float sc = relu ? scaleOf(ch, var, varOff, weight, wOff, eps) : 0f;
          float sh = relu ? shiftOf(ch, mean, meanOff, var, varOff, weight, wOff, bias, bOff, eps) : 0f;
          sums[0] = 0;
          sums[1] = 0;
          float mu = mean[meanOff + ch];
          for (int seg = 0; seg < l; seg += SEGMENT) {
            int len = Math.min(SEGMENT, l - seg);
            float[] gRow = rows.get(0, len), xRow = rows.get(1, len);
            float[] accG = rows.zeroed(2, len), accGX = rows.zeroed(3, len);
            for (int i = 0; i < n; i++) {
              int at = (i * c + ch) * l + seg;
              System.arraycopy(dout, dOff + at, gRow, 0, len);
              System.arraycopy(x, xOff + at, xRow, 0, len);
              addGradientSums(accG, accGX, gRow, xRow, len, relu, sc, sh, mu);
              if ((i + 1) % SAMPLES_IN_FLOAT == 0 || i == n - 1) {
                flush(accG, accGX, len, sums);
              }
            }
          }
          double rstd = 1.0 / Math.sqrt(var[varOff + ch] + eps);
          double sumG = sums[0];
          double sumGXhat = rstd * sums[1]; // sum(g * (x - mu) * rstd)
          if (dbias != null) {
            dbias[dbOff + ch] = (float) sumG;
          }
          if (dweight != null) {
            dweight[dwOff + ch] = (float) sumGXhat;
          }
          if (dx == null) {
            continue;
          }
          double meanG = throughStatistics ? sumG / count : 0;
          double meanGXhat = throughStatistics ? sumGXhat / count : 0;
          double ws = (weight == null ? 1.0 : weight[wOff + ch]) * rstd;
          float a = (float) ws;
          float b = (float) (-ws * rstd * meanGXhat);
          float k = (float) (-ws * meanG);
          for (int i = 0; i < n; i++) {
            int at = (i * c + ch) * l;
            inputGradientRow(dx, dxOff + at, a, dout, dOff + at, b, x, xOff + at, mu, k, l, relu, sc, sh);
          }
        }
        return;
      }
      int c0 = lo, c1 = hi;
      int width = (c1 - c0) * l;
      Rows rows = ROWS.get();
      float[] accG = rows.zeroed(0, width);
      float[] accGX = rows.zeroed(1, width);
      float[] scale = relu ? rows.get(5, width) : null;
      float[] shift = relu ? rows.get(6, width) : null;
      if (relu) {
        forwardFactors(scale, shift, c0, c1, l, mean, meanOff, var, varOff, weight, wOff, bias, bOff, eps);
      }
      float[] mus = rows.get(7, width);
      float[] gRow = rows.get(G_ROW, width), xRow = rows.get(ROW, width);
      for (int ch = c0; ch < c1; ch++) {
        Arrays.fill(mus, (ch - c0) * l, (ch - c0 + 1) * l, mean[meanOff + ch]);
      }
      for (int i = 0; i < n; i++) {
        int gi = dOff + (i * c + c0) * l;
        int xi = xOff + (i * c + c0) * l;
        if (relu) {
          sumMaskedRows(accG, accGX, dout, gi, x, xi, mus, scale, shift, gRow, xRow, width);
        } else {
          sumRows(accG, accGX, dout, gi, x, xi, mus, gRow, xRow, width);
        }
      }
      float[] a = rows.get(2, width);
      float[] b = rows.get(3, width);
      float[] k = rows.get(4, width);
      for (int ch = c0; ch < c1; ch++) {
        int from = (ch - c0) * l;
        double rstd = 1.0 / Math.sqrt(var[varOff + ch] + eps);
        double sumG = sum(accG, from, l);
        double sumGXhat = rstd * sum(accGX, from, l); // sum(g * (x - mu) * rstd)
        if (dbias != null) {
          dbias[dbOff + ch] = (float) sumG;
        }
        if (dweight != null) {
          dweight[dwOff + ch] = (float) sumGXhat;
        }
        double meanG = throughStatistics ? sumG / count : 0;
        double meanGXhat = throughStatistics ? sumGXhat / count : 0;
        double ws = (weight == null ? 1.0 : weight[wOff + ch]) * rstd;
        // dx = ws * (g - meanG - (x - mu) * rstd * meanGXhat) = a * g + b * (x - mu) + k
        Arrays.fill(a, from, from + l, (float) ws);
        Arrays.fill(b, from, from + l, (float) (-ws * rstd * meanGXhat));
        Arrays.fill(k, from, from + l, (float) (-ws * meanG));
      }
      if (dx == null) {
        return;
      }
      for (int i = 0; i < n; i++) {
        int o = dxOff + (i * c + c0) * l;
        int gi = dOff + (i * c + c0) * l;
        int xi = xOff + (i * c + c0) * l;
        if (relu) {
          maskedInputGradientRow(dx, o, a, dout, gi, b, x, xi, mus, k, scale, shift, gRow, xRow, width);
        } else {
          inputGradientRow(dx, o, a, dout, gi, b, x, xi, mus, k, gRow, xRow, width);
        }
      }
    });
  }

  // ------------------------------------------------------------------ layer norm

  /*
   * Layer norm works row by row: each row (and the weight and bias) is copied to arrays at offset 0,
   * where C2 vectorises the element-wise passes in float (it vectorises no loop over arrays at
   * different offsets, nor double arithmetic on floats), and the sums are BlockMath.sum's eight float
   * accumulators. Until the fourteenth session every pass was scalar double arithmetic and each sum one
   * chain of double additions: 5.5x PyTorch's time (docs/benchmarks.md).
   */

  /**
   * Layer normalisation of {@code rows} rows of {@code inner} contiguous values each: {@code y = (x -
   * mean) rstd w + b} per element ({@code w}, {@code b} of {@code inner} values, or null for none),
   * {@code rstd = 1 / sqrt(var + eps)} with the row's biased variance. The statistics from the
   * deviations {@code d} from the row's first value (as the batch norm's, accurate far from 0: 1000
   * + N(0, 1) keeps its digits), both sums in one scalar pass ({@link #deviationSums}) kept in double: {@code mean
   * = x0 + sum(d) / n}, {@code var = sum(d^2) / n - (sum(d) / n)^2}. The outputs in float: {@code x -
   * mean} with the mean split into two floats, times {@code rstd}, then one fused multiply-add with
   * w and b.
   * {@code mean} and {@code rstd} (one per row) are kept for {@link #layerNormBackward}. Rows are
   * shared among the cores.
   */
  public static void layerNormForward(float[] y, int yOff, float[] x, int xOff, float[] w, int wOff, float[] b, int bOff,
      double[] mean, double[] rstd, int rows, int inner, double eps) {
    float[] weight = w == null ? null : Arrays.copyOfRange(w, wOff, wOff + inner);
    float[] bias = w == null ? null : Arrays.copyOfRange(b, bOff, bOff + inner);
    Parallel.forRange(rows, 4L * rows * inner, (part, from, to) -> {
      float[] row = new float[inner], out = new float[inner];
      for (int r = from; r < to; r++) {
        System.arraycopy(x, xOff + r * inner, row, 0, inner);
        float first = row[0];
        double[] sums = deviationSums(row, first, inner);
        double shift = sums[0] / inner, m = first + shift;
        double rs = 1 / Math.sqrt(Math.max(sums[1] / inner - shift * shift, 0) + eps);
        float hi = (float) m, lo = (float) (m - hi);
        mean[r] = m;
        rstd[r] = rs;
        float scale = (float) rs;
        if (weight == null) { // the deviation and the products in one pass (two took 0.05 ns a value more)
          for (int i = 0; i < inner; i++) {
            out[i] = ((row[i] - hi) - lo) * scale;
          }
        } else {
          for (int i = 0; i < inner; i++) {
            out[i] = Math.fma(((row[i] - hi) - lo) * scale, weight[i], bias[i]);
          }
        }
        System.arraycopy(out, 0, y, yOff + r * inner, inner);
      }
    });
  }

  /**
   * Gradients of {@link #layerNormForward}; a null gradient array is skipped. With {@code xhat = (x -
   * mean) rstd} and {@code h = g w} (g without a weight): {@code dx = rstd (h - mean(h) - xhat
   * mean(h xhat))} per row, overwritten, the means by {@link BlockMath#sum} and the rest in float; {@code dw = sum
   * over rows of g xhat} and {@code db = sum of g}, summed in float over blocks of {@link #COLUMN_BLOCK} rows and the
   * blocks in double, overwritten or added to when {@code accumulate}. {@code dx} may be {@code g} at the same
   * offset (eager layer norm's backward writes over the gradient it owns): each row of {@code g} is read before that
   * row of {@code dx} is written, and the weight's and bias's gradients are summed first where they are not summed in
   * the same pass.
   *
   * <p>All three in one pass over the rows ({@code xhat} computed once a row, {@code g} and {@code x} read once) where
   * there are at least as many blocks of rows as threads: each block's float sums are kept and added in double in
   * block order afterwards, which are the bits of the columns' own pass (used otherwise: few rows, or {@code dx} or
   * both of {@code dw} and {@code db} not asked for), whatever the threads.
   */
  public static void layerNormBackward(float[] dx, int dxOff, float[] dw, int dwOff, float[] db, int dbOff, boolean accumulate,
      float[] g, int gOff, float[] x, int xOff, float[] w, int wOff, double[] mean, double[] rstd, int rows, int inner) {
    float[] weight = w == null ? null : Arrays.copyOfRange(w, wOff, wOff + inner);
    int blocks = (rows + COLUMN_BLOCK - 1) / COLUMN_BLOCK;
    if (dx != null && (dw != null || db != null) && blocks >= Parallel.threads()) {
      float[] pw = new float[blocks * inner], pb = new float[blocks * inner]; // each block's float sums, in place
      Parallel.forRange(blocks, 6L * rows * inner, (part, from, to) -> {
        float[] h = new float[inner], xhat = new float[inner], out = new float[inner];
        float[] bw = new float[inner], bb = new float[inner];
        for (int block = from; block < to; block++) {
          Arrays.fill(bw, 0f);
          Arrays.fill(bb, 0f);
          for (int r = block * COLUMN_BLOCK; r < Math.min(rows, (block + 1) * COLUMN_BLOCK); r++) {
            System.arraycopy(x, xOff + r * inner, xhat, 0, inner);
            System.arraycopy(g, gOff + r * inner, h, 0, inner);
            normaliseAddingColumnSums(xhat, h, bw, bb, mean[r], rstd[r], inner);
            inputGradientOfRow(dx, dxOff + r * inner, h, xhat, out, weight, (float) rstd[r], inner);
          }
          System.arraycopy(bw, 0, pw, block * inner, inner);
          System.arraycopy(bb, 0, pb, block * inner, inner);
        }
      });
      for (int i = 0; i < inner; i++) {
        double sw = 0, sb = 0;
        for (int block = 0; block < blocks; block++) {
          sw += pw[block * inner + i];
          sb += pb[block * inner + i];
        }
        storeColumnSums(dw, dwOff, db, dbOff, accumulate, i, sw, sb);
      }
      return;
    }
    if (dw != null || db != null) { // first: dx may be g
      Parallel.forRange(inner, 4L * rows * inner, (part, from, to) -> {
        int len = to - from;
        double[] sw = new double[len], sb = new double[len];
        float[] pw = new float[len], pb = new float[len], gRow = new float[len], xhat = new float[len];
        for (int r0 = 0; r0 < rows; r0 += COLUMN_BLOCK) { // each part's columns, row by row: contiguous reads
          Arrays.fill(pw, 0f);
          Arrays.fill(pb, 0f);
          for (int r = r0; r < Math.min(rows, r0 + COLUMN_BLOCK); r++) {
            normalisedRow(xhat, x, xOff + r * inner + from, mean[r], rstd[r], len);
            System.arraycopy(g, gOff + r * inner + from, gRow, 0, len);
            addColumnSums(pw, pb, gRow, xhat, len);
          }
          for (int i = 0; i < len; i++) {
            sw[i] += pw[i];
            sb[i] += pb[i];
          }
        }
        for (int i = 0; i < len; i++) {
          storeColumnSums(dw, dwOff, db, dbOff, accumulate, from + i, sw[i], sb[i]);
        }
      });
    }
    if (dx != null) {
      Parallel.forRange(rows, 6L * rows * inner, (part, from, to) -> {
        float[] h = new float[inner], xhat = new float[inner], out = new float[inner];
        for (int r = from; r < to; r++) {
          normalisedRow(xhat, x, xOff + r * inner, mean[r], rstd[r], inner);
          System.arraycopy(g, gOff + r * inner, h, 0, inner);
          inputGradientOfRow(dx, dxOff + r * inner, h, xhat, out, weight, (float) rstd[r], inner);
        }
      });
    }
  }

  /** A row's terms of the weight's and bias's gradients: {@code pw[i] += g[i] xhat[i]} (fused), {@code pb[i] += g[i]}. */
  private static void addColumnSums(float[] pw, float[] pb, float[] g, float[] xhat, int len) {
    for (int i = 0; i < len; i++) {
      pw[i] = Math.fma(g[i], xhat[i], pw[i]);
      pb[i] += g[i];
    }
  }

  /**
   * {@link #normalisedRow}'s {@code xhat} in place over the row's {@code x} (in {@code xhat}), and in the same loop the
   * row's terms of the weight's and bias's gradients, {@link #addColumnSums}'s (the same bits): one loop a row where there
   * were two. Over rows of 64 a loop is mostly C2's scalar pre- and post-loops around a vector loop of a few
   * iterations, so the loops a row, more than the operations, are what cost (2026-12-07, cpuspeed: the backward over 4096
   * rows of 64 5% faster, rows of 256 and 768 13-14%: docs/benchmarks.md, "Twenty-fourth session (..., cpuspeed)").
   */
  private static void normaliseAddingColumnSums(float[] xhat, float[] g, float[] pw, float[] pb, double mean, double rstd,
      int len) {
    float hi = (float) mean, lo = (float) (mean - hi), scale = (float) rstd;
    for (int i = 0; i < len; i++) {
      float v = ((xhat[i] - hi) - lo) * scale, gi = g[i];
      xhat[i] = v;
      pw[i] = Math.fma(gi, v, pw[i]);
      pb[i] += gi;
    }
  }

  /** Column {@code i}'s weight and bias gradients from their sums, overwritten or added to; a null array is skipped. */
  private static void storeColumnSums(float[] dw, int dwOff, float[] db, int dbOff, boolean accumulate, int i, double sw, double sb) {
    if (dw != null) {
      dw[dwOff + i] = (float) ((accumulate ? dw[dwOff + i] : 0) + sw);
    }
    if (db != null) {
      db[dbOff + i] = (float) ((accumulate ? db[dbOff + i] : 0) + sb);
    }
  }

  /**
   * One row of layer norm's {@code dx} into {@code dx[at, at + inner)}: {@code h} holds the row's {@code g} (then times
   * the weight, in place), {@code xhat} its normalised values; {@code out} is scratch.
   */
  private static void inputGradientOfRow(float[] dx, int at, float[] h, float[] xhat, float[] out, float[] weight, float rs,
      int inner) {
    if (weight != null) {
      for (int i = 0; i < inner; i++) {
        h[i] *= weight[i];
      }
    }
    for (int i = 0; i < inner; i++) {
      out[i] = h[i] * xhat[i];
    }
    float meanH = (float) (BlockMath.sum(h, inner) / inner), meanHx = (float) (BlockMath.sum(out, inner) / inner);
    for (int i = 0; i < inner; i++) {
      out[i] = rs * ((h[i] - meanH) - xhat[i] * meanHx);
    }
    System.arraycopy(out, 0, dx, at, inner);
  }

  /**
   * {@code {sum(d), sum(d^2)}} over {@code d = a[i] - first}, {@code i < n}: four float accumulators of each (a
   * scalar loop, as {@link BlockMath#sum}'s, over runs of 64 added in double) and the squares by fused
   * multiply-adds, in one pass over the row (the deviations and their squares written out by a vectorised loop
   * and summed by two {@link BlockMath#sum}s: layer norm's forward 8% slower over rows of 64; eight accumulators
   * of each, as slow).
   */
  private static double[] deviationSums(float[] a, float first, int n) {
    double total = 0, squares = 0;
    for (int run = 0; run < n; run += DEVIATION_RUN) {
      int end = Math.min(n, run + DEVIATION_RUN), i = run;
      float s0 = 0, s1 = 0, s2 = 0, s3 = 0, q0 = 0, q1 = 0, q2 = 0, q3 = 0;
      for (; i + 4 <= end; i += 4) {
        float d0 = a[i] - first, d1 = a[i + 1] - first, d2 = a[i + 2] - first, d3 = a[i + 3] - first;
        s0 += d0;
        s1 += d1;
        s2 += d2;
        s3 += d3;
        q0 = Math.fma(d0, d0, q0);
        q1 = Math.fma(d1, d1, q1);
        q2 = Math.fma(d2, d2, q2);
        q3 = Math.fma(d3, d3, q3);
      }
      for (; i < end; i++) {
        float d = a[i] - first;
        total += d;
        squares += d * d;
      }
      total += ((double) s0 + s1) + ((double) s2 + s3);
      squares += ((double) q0 + q1) + ((double) q2 + q3);
    }
    return new double[] {total, squares};
  }

  private static final int DEVIATION_RUN = 64;

  /** Rows whose weight and bias gradients are summed in float before the sum goes on in double. */
  private static final int COLUMN_BLOCK = 64;

  /** {@code xhat[i] = (x[at + i] - mean) rstd} for {@code i < len}, as {@link #layerNormForward} computes it. */
  private static void normalisedRow(float[] xhat, float[] x, int at, double mean, double rstd, int len) {
    System.arraycopy(x, at, xhat, 0, len);
    float hi = (float) mean, lo = (float) (mean - hi), scale = (float) rstd;
    for (int i = 0; i < len; i++) {
      xhat[i] = ((xhat[i] - hi) - lo) * scale;
    }
  }

  // ------------------------------------------------------------------ group norm

  /*
   * Group norm sees x [N, C, *] as rows of N * G groups, each the C/G channels' L = numel(*) values of one sample: a
   * contiguous row of inner = C/G * L values, normalised by its own mean and biased variance as layer norm's rows are
   * (statistics in double from the deviations from the row's first value, {@link #normalisedRow}), then scaled and
   * shifted per channel (L values at a time). The element-wise passes index their arrays with one variable where the
   * arrays' rows start at the same index (the usual case: eager arrays all start at 0), which C2 vectorises; otherwise
   * the rows go through scratch at offset 0. The statistics and the backward's sums go through segments of {@link
   * #GROUP_SEGMENT} values copied to scratch at offset 0, folded into per-position float sums.
   */

  /**
   * Group normalisation of {@code x [n, c, l]} in {@code groups} groups of {@code c / groups} channels:
   * {@code y = (x - mean) rstd w[ch] + b[ch]} with each sample's and group's mean and biased variance; {@code w},
   * {@code b} of {@code c} values, either null for none (1, 0). The arithmetic is {@link #layerNormForward}'s: the
   * statistics in double, {@code (x - mean) rstd} in float with the mean split into two floats, one fused multiply-add
   * with the channel's weight and bias. {@code mean}, {@code rstd} ({@code n * groups} each) are kept for {@link
   * #groupNormBackward}. {@code y} is overwritten and may be {@code x} at the same offset. Rows are shared among the
   * cores.
   */
  public static void groupNormForward(float[] y, int yOff, float[] x, int xOff, float[] w, int wOff, float[] b, int bOff,
      double[] mean, double[] rstd, int n, int c, int groups, int l, double eps) {
    int per = c / groups, inner = per * l, rows = n * groups;
    if (inner == 0) {
      return;
    }
    Parallel.forRange(rows, 4L * rows * inner, (part, from, to) -> {
      Rows scratch = ROWS.get();
      double[] sums = new double[2];
      for (int r = from; r < to; r++) {
        int xr = xOff + r * inner, yr = yOff + r * inner;
        groupStatistics(x, xr, inner, eps, mean, rstd, r, scratch, sums);
        double m = mean[r];
        float hi = (float) m, lo = (float) (m - hi), scale = (float) rstd[r];
        // x and y read and written at one index; a row whose arrays start elsewhere goes through scratch
        float[] src = x, dst = y;
        int at = xr;
        if (xr != yr) {
          dst = src = scratch.get(ROW, inner);
          System.arraycopy(x, xr, src, 0, inner);
          at = 0;
        }
        int ch0 = (r % groups) * per;
        for (int j = 0; j < per; j++) {
          int from0 = at + j * l, to0 = from0 + l;
          if (w == null && b == null) {
            for (int t = from0; t < to0; t++) {
              dst[t] = ((src[t] - hi) - lo) * scale;
            }
          } else {
            float wc = w == null ? 1f : w[wOff + ch0 + j], bc = b == null ? 0f : b[bOff + ch0 + j];
            for (int t = from0; t < to0; t++) {
              dst[t] = Math.fma(((src[t] - hi) - lo) * scale, wc, bc);
            }
          }
        }
        if (dst != y) {
          System.arraycopy(dst, 0, y, yr, inner);
        }
      }
    });
  }

  /** Positions of a group's row's per-position sums ({@link #groupStatistics}, {@link #channelGradientSums}). */
  private static final int GROUP_SEGMENT = 128;

  /**
   * A group's row {@code x[at, at + inner)}: its mean and {@code rstd = 1 / sqrt(var + eps)} (the biased variance) into
   * {@code mean[r]}, {@code rstd[r]}, from the deviations from the row's first value as layer norm's, in vector loops:
   * the row is folded into per-position float sums of {@code x - x[0]} and its square over segments of {@link
   * #GROUP_SEGMENT} values ({@link #addShifted}, each segment copied to scratch at offset 0 first, as the batch norm's
   * long rows), added in double every {@link #SAMPLES_IN_FLOAT} segments and at the row's end. A group's row is long
   * (2048 values for GroupNorm(32, 64) over 32x32 maps): over [32, 64, 32, 32] in 32 groups, one thread, the forward
   * took 1.55 ms with {@link #deviationSums}' scalar loop, 1.24 with segments of 128 (of 64: 1.45; of 256: 1.22, no
   * better).
   */
  private static void groupStatistics(float[] x, int at0, int inner, double eps, double[] mean, double[] rstd, int r,
      Rows scratch, double[] sums) {
    int width = Math.min(GROUP_SEGMENT, inner);
    float[] seg = scratch.get(0, width), s = scratch.zeroed(1, width), q = scratch.zeroed(2, width);
    float k = x[at0];
    sums[0] = 0;
    sums[1] = 0;
    int segments = 0;
    for (int at = 0; at < inner; at += width) {
      int len = Math.min(width, inner - at);
      System.arraycopy(x, at0 + at, seg, 0, len);
      addShifted(s, q, seg, k, len);
      if (++segments % SAMPLES_IN_FLOAT == 0 || at + len == inner) {
        groupFlush(s, q, width, sums);
      }
    }
    double shift = sums[0] / inner;
    mean[r] = k + shift;
    rstd[r] = 1 / Math.sqrt(Math.max(sums[1] / inner - shift * shift, 0) + eps);
  }

  /**
   * {@code sums[0] = sum(g)}, {@code sums[1] = sum(g xhat)} over one channel's {@code len} values of a group's row,
   * {@code g[gAt..]} and {@code x[xAt..]}, {@code xhat = ((x - hi) - lo) scale} as the forward computes it: segments of
   * {@link #GROUP_SEGMENT} copied to scratch at offset 0 and added into per-position float sums in one vector loop,
   * those added in double every {@link #SAMPLES_IN_FLOAT} segments and at the channel's end.
   */
  private static void channelGradientSums(float[] g, int gAt, float[] x, int xAt, int len, float hi, float lo, float scale,
      Rows scratch, double[] sums) {
    int width = Math.min(GROUP_SEGMENT, len);
    float[] xs = scratch.get(0, width), gs = scratch.get(3, width), sg = scratch.zeroed(1, width), sgx = scratch.zeroed(2, width);
    sums[0] = 0;
    sums[1] = 0;
    int segments = 0;
    for (int at = 0; at < len; at += width) {
      int m = Math.min(width, len - at);
      System.arraycopy(g, gAt + at, gs, 0, m);
      System.arraycopy(x, xAt + at, xs, 0, m);
      for (int t = 0; t < m; t++) {
        float v = gs[t];
        sg[t] += v;
        sgx[t] += v * (((xs[t] - hi) - lo) * scale);
      }
      if (++segments % SAMPLES_IN_FLOAT == 0 || at + m == len) {
        groupFlush(sg, sgx, width, sums);
      }
    }
  }

  /**
   * {@link #flush} of group norm's per-position sums: a full segment's ({@link #GROUP_SEGMENT} positions) halved in
   * vector loops ({@code s[t] += s[t + 64]}, then 32, then 16) before the last 16 are summed in double, where the
   * scalar sum of all 128 took a quarter of the forward's and backward's time (a flush a row, and a channel).
   */
  private static void groupFlush(float[] s, float[] q, int len, double[] sums) {
    if (len != GROUP_SEGMENT) {
      flush(s, q, len, sums);
      return;
    }
    for (int t = 0; t < 64; t++) {
      s[t] += s[t + 64];
      q[t] += q[t + 64];
    }
    for (int t = 0; t < 32; t++) {
      s[t] += s[t + 32];
      q[t] += q[t + 32];
    }
    for (int t = 0; t < 16; t++) {
      s[t] += s[t + 16];
      q[t] += q[t + 16];
    }
    sums[0] += sum(s, 0, 16);
    sums[1] += sum(q, 0, 16);
    Arrays.fill(s, 0, len, 0f);
    Arrays.fill(q, 0, len, 0f);
  }

  /**
   * Gradients of {@link #groupNormForward}; a null gradient array is skipped. Per row (a sample's group), with {@code
   * xhat = (x - mean) rstd} and {@code h = g w[ch]}: each channel's {@code sum(g)} and {@code sum(g xhat)} over its L
   * values (one pass, {@link #channelGradientSums}), which give the row's {@code sum(h)} and {@code sum(h xhat)}, then
   * {@code dx = rstd (h - mean(h) - xhat mean(h xhat))} (a second pass, in float, as layer norm's, {@code xhat} computed
   * again); the channels' sums over the samples, in double, are {@code db} and {@code dw}, overwritten or added to when
   * {@code accumulate}. {@code dx} may be {@code g} at the same offset: each row of {@code g} is read before that row of
   * {@code dx} is written.
   */
  public static void groupNormBackward(float[] dx, int dxOff, float[] dw, int dwOff, float[] db, int dbOff, boolean accumulate,
      float[] g, int gOff, float[] x, int xOff, float[] w, int wOff, double[] mean, double[] rstd, int n, int c, int groups,
      int l) {
    int per = c / groups, inner = per * l, rows = n * groups;
    if (inner == 0) {
      return;
    }
    double[] sumG = new double[n * c], sumGX = new double[n * c]; // per sample and channel
    Parallel.forRange(rows, 6L * rows * inner, (part, from, to) -> {
      Rows scratch = ROWS.get();
      double[] sums = new double[2];
      for (int r = from; r < to; r++) {
        int xr = xOff + r * inner, gr = gOff + r * inner, dr = dxOff + r * inner;
        double m = mean[r];
        float hi = (float) m, lo = (float) (m - hi), scale = (float) rstd[r];
        int ch0 = (r / groups) * c + (r % groups) * per; // the row's first channel, as an index of [n, c]
        double sumH = 0, sumHX = 0;
        for (int j = 0; j < per; j++) {
          channelGradientSums(g, gr + j * l, x, xr + j * l, l, hi, lo, scale, scratch, sums);
          sumG[ch0 + j] = sums[0];
          sumGX[ch0 + j] = sums[1];
          double wc = w == null ? 1 : w[wOff + (r % groups) * per + j];
          sumH += wc * sums[0];
          sumHX += wc * sums[1];
        }
        if (dx == null) {
          continue;
        }
        float meanH = (float) (sumH / inner), meanHx = (float) (sumHX / inner), rs = (float) rstd[r];
        // dx, g and x at one index; rows whose arrays start elsewhere go through scratch
        float[] gs = g, xs = x, out = dx;
        int at = dr;
        if (dr != gr || gr != xr) {
          gs = scratch.get(G_ROW, inner);
          out = xs = scratch.get(ROW, inner);
          System.arraycopy(g, gr, gs, 0, inner);
          System.arraycopy(x, xr, xs, 0, inner);
          at = 0;
        }
        for (int j = 0; j < per; j++) {
          float wc = w == null ? 1f : w[wOff + (r % groups) * per + j];
          for (int t = at + j * l; t < at + (j + 1) * l; t++) {
            float xhat = ((xs[t] - hi) - lo) * scale;
            out[t] = rs * ((gs[t] * wc - meanH) - xhat * meanHx);
          }
        }
        if (out != dx) {
          System.arraycopy(out, 0, dx, dr, inner);
        }
      }
    });
    for (int ch = 0; ch < c; ch++) {
      double sg = 0, sgx = 0;
      for (int i = 0; i < n; i++) {
        sg += sumG[i * c + ch];
        sgx += sumGX[i * c + ch];
      }
      if (dw != null) {
        dw[dwOff + ch] = (float) ((accumulate ? dw[dwOff + ch] : 0) + sgx);
      }
      if (db != null) {
        db[dbOff + ch] = (float) ((accumulate ? db[dbOff + ch] : 0) + sg);
      }
    }
  }
}
