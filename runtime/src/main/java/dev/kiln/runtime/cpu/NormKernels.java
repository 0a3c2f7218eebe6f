package dev.kiln.runtime.cpu;

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
   * The batch mean and the biased batch variance (divided by {@code N*L}) of each channel, two-pass
   * in double: {@code mean[c]}, {@code var[c]} for {@code c < C}.
   */
  public static void batchStatistics(float[] mean, int meanOff, float[] var, int varOff, float[] x, int xOff, int n, int c, int l) {
    double count = (double) n * l;
    for (int ch = 0; ch < c; ch++) {
      double sum = 0;
      for (int i = 0; i < n; i++) {
        sum += sum(x, xOff + (i * c + ch) * l, l);
      }
      double mu = sum / count;
      double squares = 0;
      for (int i = 0; i < n; i++) {
        squares += squaredDeviations(x, xOff + (i * c + ch) * l, l, (float) mu);
      }
      mean[meanOff + ch] = (float) mu;
      var[varOff + ch] = (float) (squares / count);
    }
  }

  // Row reductions in float with four independent accumulators (one dependency chain would make
  // the loop latency-bound), summed into double across rows by the callers.

  /** Sum of {@code a[off, off+len)}; also used by the convolution's bias gradient. */
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

  private static double squaredDeviations(float[] a, int off, int len, float mu) {
    float s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    int j = 0;
    for (; j + 3 < len; j += 4) {
      float d0 = a[off + j] - mu, d1 = a[off + j + 1] - mu, d2 = a[off + j + 2] - mu, d3 = a[off + j + 3] - mu;
      s0 += d0 * d0;
      s1 += d1 * d1;
      s2 += d2 * d2;
      s3 += d3 * d3;
    }
    for (; j < len; j++) {
      float d = a[off + j] - mu;
      s0 += d * d;
    }
    return (double) s0 + s1 + s2 + s3;
  }

  private static double dot(float[] a, int aOff, float[] b, int bOff, int len) {
    float s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    int j = 0;
    for (; j + 3 < len; j += 4) {
      s0 += a[aOff + j] * b[bOff + j];
      s1 += a[aOff + j + 1] * b[bOff + j + 1];
      s2 += a[aOff + j + 2] * b[bOff + j + 2];
      s3 += a[aOff + j + 3] * b[bOff + j + 3];
    }
    for (; j < len; j++) {
      s0 += a[aOff + j] * b[bOff + j];
    }
    return (double) s0 + s1 + s2 + s3;
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
    for (int ch = 0; ch < c; ch++) {
      double rstd = 1.0 / Math.sqrt(var[varOff + ch] + eps);
      double w = weight == null ? 1.0 : weight[wOff + ch];
      float scale = (float) (w * rstd);
      float shift = (float) ((bias == null ? 0.0 : bias[bOff + ch]) - mean[meanOff + ch] * w * rstd);
      for (int i = 0; i < n; i++) {
        int o = outOff + (i * c + ch) * l;
        int xi = xOff + (i * c + ch) * l;
        for (int j = 0; j < l; j++) {
          out[o + j] = x[xi + j] * scale + shift;
        }
      }
    }
  }

  /**
   * Gradients of {@link #batchNormForward}. With {@code throughStatistics} (training: the mean and
   * variance were computed from this batch) the input gradient includes their dependence on x:
   * {@code dx = w * rstd * (dout - mean(dout) - xhat * mean(dout * xhat))}, means over the
   * channel's {@code N*L} values; without it (evaluation: fixed running statistics)
   * {@code dx = w * rstd * dout}. Always {@code dweight[c] = sum(dout * xhat)} and
   * {@code dbias[c] = sum(dout)}. Any of {@code dx}, {@code dweight}, {@code dbias} may be null
   * (not wanted), and {@code weight} may be null (no affine transform).
   */
  public static void batchNormBackward(
      float[] dx, int dxOff, float[] dweight, int dwOff, float[] dbias, int dbOff, float[] dout, int dOff,
      float[] x, int xOff, float[] mean, int meanOff, float[] var, int varOff, float[] weight, int wOff,
      int n, int c, int l, double eps, boolean throughStatistics) {
    double count = (double) n * l;
    for (int ch = 0; ch < c; ch++) {
      double mu = mean[meanOff + ch];
      double rstd = 1.0 / Math.sqrt(var[varOff + ch] + eps);
      double sumG = 0;
      double sumGX = 0;
      for (int i = 0; i < n; i++) {
        int gi = dOff + (i * c + ch) * l;
        sumG += sum(dout, gi, l);
        sumGX += dot(dout, gi, x, xOff + (i * c + ch) * l, l);
      }
      double sumGXhat = rstd * (sumGX - mu * sumG); // sum(g * (x - mu) * rstd)
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
      double scale = (weight == null ? 1.0 : weight[wOff + ch]) * rstd;
      // dx = scale * (g - meanG - (x - mu) * rstd * meanGXhat) = a * g + b * x + k
      float a = (float) scale;
      float b = (float) (-scale * rstd * meanGXhat);
      float k = (float) (scale * (rstd * meanGXhat * mu - meanG));
      for (int i = 0; i < n; i++) {
        int o = dxOff + (i * c + ch) * l;
        int gi = dOff + (i * c + ch) * l;
        int xi = xOff + (i * c + ch) * l;
        for (int j = 0; j < l; j++) {
          dx[o + j] = a * dout[gi + j] + b * x[xi + j] + k;
        }
      }
    }
  }
}
