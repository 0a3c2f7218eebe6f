package dev.kiln.runtime.cuda;

/**
 * Group normalisation over {@code x} seen as {@code [n, c, l]} in {@code groups} groups of {@code per = c / groups}
 * channels: each sample's group is a contiguous row of {@code inner = per * l} values ({@code n * groups} rows). Eager
 * mode's kernels (a compiled model's GroupNorm step runs the layer's eager device path). The arithmetic is the CPU's
 * ({@code cpu.NormKernels.groupNormForward}/{@code Backward}): each row's mean and biased variance in double (two
 * passes), kept as the mean split into two floats and {@code rstd = 1 / sqrt(var + eps)} rounded to float; {@code xhat
 * = ((x - hi) - lo) * rstd} in float, then one fused multiply-add with the channel's weight and bias; the backward's
 * per-(sample, channel) sums of {@code g} and {@code g * xhat} in double, from which the weight's and bias's gradients
 * (summed over the samples) and each row's {@code mean(h)}, {@code mean(h xhat)} ({@code h = g w}) come, then {@code
 * dx = rstd ((g w - mean(h)) - xhat mean(h xhat))} in float. Reductions add in an order fixed by the sizes alone
 * ({@link BatchNormKernels#BLOCK_SUM}'s tree). eps travels as the bits of a double.
 *
 * <p>The statistics run one block of 256 threads per row, the backward's sums one block per (sample, channel).
 */
public final class GroupNormKernels {
  private static final int THREADS = 256;

  /** The CUDA C source, public so that a test can compile it without a GPU. */
  public static final String SOURCE = BatchNormKernels.BLOCK_SUM + """

      // xhat of value v in row r: ((v - hi) - lo) * rstd, the row's stats at 3r.
      __device__ float kiln_gn_xhat(float v, const float* stats, long long r) {
        return __fmul_rn(__fsub_rn(__fsub_rn(v, stats[3 * r]), stats[3 * r + 1]), stats[3 * r + 2]);
      }

      // One block per row of inner values: the mean (as two floats, hi and lo) and rstd = 1 / sqrt(var + eps) of the
      // biased variance, into stats[3r], stats[3r + 1], stats[3r + 2], in double, two passes.
      extern "C" __global__ void kiln_gn_statistics(float* stats, const float* x, int inner, long long epsBits) {
        __shared__ double red[256];
        long long r = blockIdx.x;
        const float* row = x + r * inner;
        double sum = 0.0;
        for (int j = threadIdx.x; j < inner; j += 256) sum += row[j];
        double mu = kiln_block_sum(sum, red) / inner;
        double squares = 0.0;
        for (int j = threadIdx.x; j < inner; j += 256) {
          double d = row[j] - mu;
          squares += d * d;
        }
        double v = kiln_block_sum(squares, red) / inner;
        if (threadIdx.x == 0) {
          float hi = (float) mu;
          stats[3 * r] = hi;
          stats[3 * r + 1] = (float) (mu - hi);
          stats[3 * r + 2] = (float) (1.0 / sqrt(v + __longlong_as_double(epsBits)));
        }
      }

      // y = xhat * w[ch] + b[ch] (one fused multiply-add; xhat alone without weight and bias), a thread per element.
      extern "C" __global__ void kiln_gn_forward(float* y, const float* x, const float* stats, const float* weight,
          const float* bias, int c, int l, int inner, long long count) {
        long long i = (long long) blockIdx.x * blockDim.x + threadIdx.x;
        if (i >= count) return;
        int ch = (int) ((i / l) % c);
        float xhat = kiln_gn_xhat(x[i], stats, i / inner);
        if (weight == nullptr && bias == nullptr) {
          y[i] = xhat;
        } else {
          y[i] = fmaf(xhat, weight == nullptr ? 1.0f : weight[ch], bias == nullptr ? 0.0f : bias[ch]);
        }
      }

      // One block per (sample i, channel ch), p = i * c + ch: sum(g) and sum(g * xhat) over the channel's l values, in
      // double, into sums[2p] and sums[2p + 1].
      extern "C" __global__ void kiln_gn_channel_sums(double* sums, const float* g, const float* x, const float* stats,
          int c, int l, int per) {
        __shared__ double red[256];
        long long p = blockIdx.x;
        long long r = (p / c) * (c / per) + (p % c) / per;
        double sg = 0.0, sgx = 0.0;
        for (int j = threadIdx.x; j < l; j += 256) {
          float v = g[p * l + j];
          sg += v;
          sgx += (double) v * kiln_gn_xhat(x[p * l + j], stats, r);
        }
        sg = kiln_block_sum(sg, red);
        sgx = kiln_block_sum(sgx, red);
        if (threadIdx.x == 0) {
          sums[2 * p] = sg;
          sums[2 * p + 1] = sgx;
        }
      }

      // A thread per channel: dbias = sum over samples of sum(g), dweight of sum(g * xhat) (written, or added when
      // accumulate; either may be null).
      extern "C" __global__ void kiln_gn_parameter_gradients(float* dweight, float* dbias, const double* sums, int n, int c,
          int accumulateWeight, int accumulateBias) {
        int ch = blockIdx.x * blockDim.x + threadIdx.x;
        if (ch >= c) return;
        double sg = 0.0, sgx = 0.0;
        for (int i = 0; i < n; i++) {
          sg += sums[2 * ((long long) i * c + ch)];
          sgx += sums[2 * ((long long) i * c + ch) + 1];
        }
        if (dbias != nullptr) dbias[ch] = accumulateBias ? dbias[ch] + (float) sg : (float) sg;
        if (dweight != nullptr) dweight[ch] = accumulateWeight ? dweight[ch] + (float) sgx : (float) sgx;
      }

      // A thread per row: mean(h) and mean(h * xhat), h = g * w, from the row's channels' sums, into coef[2r], coef[2r + 1].
      extern "C" __global__ void kiln_gn_row_coefficients(float* coef, const double* sums, const float* weight, int rows,
          int groups, int per, int inner) {
        int r = blockIdx.x * blockDim.x + threadIdx.x;
        if (r >= rows) return;
        long long p0 = (long long) (r / groups) * groups * per + (long long) (r % groups) * per;
        double sh = 0.0, shx = 0.0;
        for (int j = 0; j < per; j++) {
          double w = weight == nullptr ? 1.0 : (double) weight[(r % groups) * per + j];
          sh += w * sums[2 * (p0 + j)];
          shx += w * sums[2 * (p0 + j) + 1];
        }
        coef[2 * r] = (float) (sh / inner);
        coef[2 * r + 1] = (float) (shx / inner);
      }

      // dx = rstd * ((g * w - mean(h)) - xhat * mean(h xhat)), a thread per element.
      extern "C" __global__ void kiln_gn_backward(float* dx, const float* g, const float* x, const float* stats,
          const float* coef, const float* weight, int c, int l, int inner, long long count) {
        long long i = (long long) blockIdx.x * blockDim.x + threadIdx.x;
        if (i >= count) return;
        long long r = i / inner;
        int ch = (int) ((i / l) % c);
        float h = weight == nullptr ? g[i] : __fmul_rn(g[i], weight[ch]);
        float xhat = kiln_gn_xhat(x[i], stats, r);
        dx[i] = __fmul_rn(stats[3 * r + 2], __fsub_rn(__fsub_rn(h, coef[2 * r]), __fmul_rn(xhat, coef[2 * r + 1])));
      }
      """;

  private GroupNormKernels() {}

  private static CudaKernel kernel(String name) {
    return CudaModule.of("kiln_group_norm.cu", SOURCE).kernel(name);
  }

  /** Each row's statistics ({@code stats [3 rows]}: the mean's two floats and rstd) of {@code x [rows, inner]}. */
  public static void statistics(long stats, long x, int rows, int inner, double eps) {
    if (rows == 0 || inner == 0) {
      return;
    }
    kernel("kiln_gn_statistics").launch(rows, 1, THREADS, 0, stats, x, inner, Double.doubleToRawLongBits(eps));
  }

  /** {@code y = xhat * w + b} per channel over {@code x [n, c, l]} ({@code count} values); weight and bias 0 for none. */
  public static void forward(long y, long x, long stats, long weight, long bias, int c, int l, int inner, long count) {
    kernel("kiln_gn_forward").launch1d(count, y, x, stats, weight, bias, c, l, inner, count);
  }

  /**
   * The backward's sums per (sample, channel) into {@code sums} ({@code 2 n c} doubles), {@link #parameterGradients} and
   * {@link #rowCoefficients}' input.
   */
  public static void channelSums(long sums, long g, long x, long stats, int n, int c, int l, int per) {
    if ((long) n * c == 0 || l == 0) {
      return;
    }
    kernel("kiln_gn_channel_sums").launch(n * c, 1, THREADS, 0, sums, g, x, stats, c, l, per);
  }

  /** The weight's and bias's gradients from {@link #channelSums} (0 for not wanted; added to when the flag is set). */
  public static void parameterGradients(long dweight, long dbias, long sums, int n, int c, boolean accumulateWeight,
      boolean accumulateBias) {
    kernel("kiln_gn_parameter_gradients").launch1d(c, dweight, dbias, sums, n, c, accumulateWeight ? 1 : 0,
        accumulateBias ? 1 : 0);
  }

  /** Each row's {@code mean(h)} and {@code mean(h xhat)} into {@code coef [2 rows]}. */
  public static void rowCoefficients(long coef, long sums, long weight, int rows, int groups, int per, int inner) {
    kernel("kiln_gn_row_coefficients").launch1d(rows, coef, sums, weight, rows, groups, per, inner);
  }

  /** The input's gradient from the statistics and {@link #rowCoefficients}. */
  public static void backward(long dx, long g, long x, long stats, long coef, long weight, int c, int l, int inner, long count) {
    kernel("kiln_gn_backward").launch1d(count, dx, g, x, stats, coef, weight, c, l, inner, count);
  }
}
