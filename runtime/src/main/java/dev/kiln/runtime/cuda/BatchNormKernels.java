package dev.kiln.runtime.cuda;

/**
 * Batch normalisation over {@code x} seen as {@code [n, c, l]} ({@code l = 1} for BatchNorm1d's
 * {@code [N, C]}, {@code H*W} for BatchNorm2d): eager mode's kernels, the generic twins of those
 * the processor writes for a compiled model with the sizes baked in. The arithmetic is the CPU's
 * ({@code cpu.NormKernels}): statistics in double, two passes (mean, then squared deviations),
 * the running variance moved with the unbiased batch variance; the forward's per-channel scale
 * {@code w / sqrt(var + eps)} and shift {@code b - mean * scale} in double, rounded to float, and
 * {@code x * scale + shift} rounded as two float operations; the backward's two per-channel sums
 * in double, giving {@code dx = a * dy + b * x + k} per channel ({@code b = k = 0} in evaluation,
 * where the statistics are constants). Reductions add in an order fixed by the sizes alone. eps
 * and momentum travel as the bits of a double ({@link Double#doubleToRawLongBits}), as the CPU uses
 * them.
 *
 * <p>The statistics and backward-reduction kernels run one block of 256 threads per channel.
 */
public final class BatchNormKernels {
  private static final int THREADS = 256;

  /**
   * CUDA C of {@code kiln_block_sum(v, red)}: the sum of every thread's {@code v} over a block of
   * 256 threads, in a fixed order (a tree), in every thread; {@code red} is a shared
   * {@code double[256]}. Shared with the kernels the processor generates for compiled models.
   */
  public static final String BLOCK_SUM = """
      // The sum of every thread's v over a block of 256 threads, in a fixed order (a tree), in every thread.
      __device__ double kiln_block_sum(double v, double* red) {
        red[threadIdx.x] = v;
        __syncthreads();
        for (int s = 128; s > 0; s >>= 1) {
          if (threadIdx.x < s) red[threadIdx.x] += red[threadIdx.x + s];
          __syncthreads();
        }
        double r = red[0];
        __syncthreads();
        return r;
      }
      """;

  /** The CUDA C source, public so that a test can compile it without a GPU. */
  public static final String SOURCE = BLOCK_SUM + """

      // Element j (0 <= j < n * l) of channel ch in x [n, c, l].
      #define KILN_BN_AT(ch, j, c, l) (((long long) ((j) / (l)) * (c) + (ch)) * (l) + (j) % (l))

      // factors[ch] = w / sqrt(var + eps), factors[c + ch] = b - mean * w / sqrt(var + eps); weight and
      // bias may be null (1 and 0).
      __device__ void kiln_bn_set_factors(float* factors, int c, int ch, float mean, float var,
                                          const float* weight, const float* bias, double eps) {
        double rstd = 1.0 / sqrt((double) var + eps);
        double w = weight == nullptr ? 1.0 : (double) weight[ch];
        factors[ch] = (float) (w * rstd);
        factors[c + ch] = (float) ((bias == nullptr ? 0.0 : (double) bias[ch]) - (double) mean * w * rstd);
      }

      // Training: the batch's mean and biased variance per channel (one block each), the forward's
      // factors, and, when runningMean is not null, the running statistics moved by momentum (the
      // variance made unbiased: var * m / (m - 1)).
      extern "C" __global__ void kiln_bn_statistics(float* mean, float* var, float* factors, float* runningMean,
          float* runningVar, const float* weight, const float* bias, const float* x, int n, int c, int l,
          long long epsBits, long long momentumBits) {
        __shared__ double red[256];
        int ch = blockIdx.x;
        int m = n * l;
        double sum = 0.0;
        for (int j = threadIdx.x; j < m; j += 256) sum += x[KILN_BN_AT(ch, j, c, l)];
        double mu = kiln_block_sum(sum, red) / m;
        double squares = 0.0;
        for (int j = threadIdx.x; j < m; j += 256) {
          double d = x[KILN_BN_AT(ch, j, c, l)] - mu;
          squares += d * d;
        }
        double v = kiln_block_sum(squares, red) / m;
        if (threadIdx.x == 0) {
          float fm = (float) mu, fv = (float) v;
          mean[ch] = fm;
          var[ch] = fv;
          kiln_bn_set_factors(factors, c, ch, fm, fv, weight, bias, __longlong_as_double(epsBits));
          if (runningMean != nullptr) {
            double momentum = __longlong_as_double(momentumBits);
            double unbias = (double) m / (m - 1);
            runningMean[ch] = (float) ((1.0 - momentum) * runningMean[ch] + momentum * fm);
            runningVar[ch] = (float) ((1.0 - momentum) * runningVar[ch] + momentum * fv * unbias);
          }
        }
      }

      // Evaluation: the factors from given statistics (the running ones), a thread per channel.
      extern "C" __global__ void kiln_bn_factors(float* factors, const float* mean, const float* var,
          const float* weight, const float* bias, int c, long long epsBits) {
        int ch = blockIdx.x * blockDim.x + threadIdx.x;
        if (ch < c) kiln_bn_set_factors(factors, c, ch, mean[ch], var[ch], weight, bias, __longlong_as_double(epsBits));
      }

      // y = x * scale + shift, a thread per element.
      extern "C" __global__ void kiln_bn_forward(float* y, const float* x, const float* factors, int c, int l, long long count) {
        long long i = (long long) blockIdx.x * blockDim.x + threadIdx.x;
        if (i >= count) return;
        int ch = (int) ((i / l) % c);
        y[i] = __fadd_rn(__fmul_rn(x[i], factors[ch]), factors[c + ch]);
      }

      // Per channel, one block: sum(dy) and sum(dy * (x - mean)) give dweight = sum(dy * xhat) and
      // dbias = sum(dy) (written, or added when accumulate; either may be null) and the input
      // gradient's coefficients coef[ch] = a, coef[c + ch] = b, coef[2c + ch] = k.
      extern "C" __global__ void kiln_bn_backward_reduce(float* coef, float* dweight, float* dbias, const float* g,
          const float* x, const float* mean, const float* var, const float* weight, int n, int c, int l,
          long long epsBits, int training, int accumulateWeight, int accumulateBias) {
        __shared__ double red[256];
        int ch = blockIdx.x;
        int m = n * l;
        double mu = mean[ch];
        double sumG = 0.0, sumGD = 0.0;
        for (int j = threadIdx.x; j < m; j += 256) {
          long long i = KILN_BN_AT(ch, j, c, l);
          double d = g[i];
          sumG += d;
          sumGD += d * ((double) x[i] - mu);
        }
        sumG = kiln_block_sum(sumG, red);
        sumGD = kiln_block_sum(sumGD, red);
        if (threadIdx.x == 0) {
          double rstd = 1.0 / sqrt((double) var[ch] + __longlong_as_double(epsBits));
          double sumGXhat = rstd * sumGD;
          if (dbias != nullptr) dbias[ch] = accumulateBias ? dbias[ch] + (float) sumG : (float) sumG;
          if (dweight != nullptr) dweight[ch] = accumulateWeight ? dweight[ch] + (float) sumGXhat : (float) sumGXhat;
          double meanG = training ? sumG / m : 0.0;
          double meanGXhat = training ? sumGXhat / m : 0.0;
          double ws = (weight == nullptr ? 1.0 : (double) weight[ch]) * rstd;
          coef[ch] = (float) ws;
          coef[c + ch] = (float) (-ws * rstd * meanGXhat);
          coef[2 * c + ch] = (float) (ws * (rstd * meanGXhat * mu - meanG));
        }
      }

      // dx = a * dy + b * x + k, a thread per element.
      extern "C" __global__ void kiln_bn_backward(float* dx, const float* g, const float* x, const float* coef,
          int c, int l, long long count) {
        long long i = (long long) blockIdx.x * blockDim.x + threadIdx.x;
        if (i >= count) return;
        int ch = (int) ((i / l) % c);
        dx[i] = coef[ch] * g[i] + coef[c + ch] * x[i] + coef[2 * c + ch];
      }
      """;

  private BatchNormKernels() {}

  private static CudaKernel kernel(String name) {
    return CudaModule.of("kiln_batch_norm.cu", SOURCE).kernel(name);
  }

  /**
   * Training statistics of {@code x [n, c, l]}: {@code mean}, {@code var} (biased) and the forward's
   * {@code factors} ({@code [2c]}); the running statistics (0 for none) move by {@code momentum}.
   * {@code weight}/{@code bias} 0 mean none.
   */
  public static void statistics(long mean, long var, long factors, long runningMean, long runningVar, long weight, long bias,
      long x, int n, int c, int l, double eps, double momentum) {
    if (c == 0) {
      return;
    }
    kernel("kiln_bn_statistics").launch(c, 1, THREADS, 0, mean, var, factors, runningMean, runningVar, weight, bias, x,
        n, c, l, Double.doubleToRawLongBits(eps), Double.doubleToRawLongBits(momentum));
  }

  /** The forward's factors ({@code [2c]}) from given statistics, as {@link #statistics} computes them. */
  public static void factors(long factors, long mean, long var, long weight, long bias, int c, double eps) {
    kernel("kiln_bn_factors").launch1d(c, factors, mean, var, weight, bias, c, Double.doubleToRawLongBits(eps));
  }

  /** {@code y = x * scale + shift} over {@code x [n, c, l]} ({@code count = n * c * l} values). */
  public static void forward(long y, long x, long factors, int c, int l, long count) {
    kernel("kiln_bn_forward").launch1d(count, y, x, factors, c, l, count);
  }

  /**
   * The backward's per-channel pass: {@code dweight}, {@code dbias} (0 for not wanted; added to
   * when the matching flag is set) and the input gradient's coefficients {@code coef} ({@code [3c]}).
   * {@code training}: the statistics were the batch's (the gradient flows through them).
   */
  public static void backwardReduce(long coef, long dweight, long dbias, long g, long x, long mean, long var, long weight,
      int n, int c, int l, double eps, boolean training, boolean accumulateWeight, boolean accumulateBias) {
    if (c == 0) {
      return;
    }
    kernel("kiln_bn_backward_reduce").launch(c, 1, THREADS, 0, coef, dweight, dbias, g, x, mean, var, weight, n, c, l,
        Double.doubleToRawLongBits(eps), training ? 1 : 0, accumulateWeight ? 1 : 0, accumulateBias ? 1 : 0);
  }

  /** {@code dx = a * dy + b * x + k} per channel, from {@link #backwardReduce}'s coefficients. */
  public static void backward(long dx, long g, long x, long coef, int c, int l, long count) {
    kernel("kiln_bn_backward").launch1d(count, dx, g, x, coef, c, l, count);
  }
}
