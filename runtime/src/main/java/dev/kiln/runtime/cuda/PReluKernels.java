package dev.kiln.runtime.cuda;

/**
 * The parametric ReLU of {@code cpu.PReluKernels} on the GPU over {@code x} seen as {@code [outer, channels, inner]}, each
 * value's slope its channel's, read where it lives: the forward and the input's gradient one thread per element; the
 * slopes' gradient {@code sum(x > 0 ? 0 : g * x)} one block of 256 threads per channel, in double, added in an order fixed
 * by the sizes alone ({@link BatchNormKernels#BLOCK_SUM}'s tree), rounded to float once.
 */
public final class PReluKernels {
  private static final int THREADS = 256;

  /** The CUDA C source, public so that a test can compile it without a GPU. */
  public static final String SOURCE = BatchNormKernels.BLOCK_SUM + """

      extern "C" __global__ void kiln_prelu_forward(float* out, const float* x, const float* w, int channels, int inner, long long n) {
        long long i = (long long) blockIdx.x * blockDim.x + threadIdx.x;
        if (i < n) {
          float v = x[i];
          out[i] = v > 0.0f ? v : w[(i / inner) % channels] * v;
        }
      }

      extern "C" __global__ void kiln_prelu_backward(float* dx, const float* g, const float* x, const float* w, int channels, int inner,
                                                     long long n) {
        long long i = (long long) blockIdx.x * blockDim.x + threadIdx.x;
        if (i < n) {
          dx[i] = x[i] > 0.0f ? g[i] : w[(i / inner) % channels] * g[i];
        }
      }

      // dw[c] (+)= sum over every position of channel c of (x > 0 ? 0 : g * x): one block per channel.
      extern "C" __global__ void kiln_prelu_slope_backward(float* dw, const float* g, const float* x, int outer, int channels, int inner,
                                                           int accumulate) {
        __shared__ double red[256];
        int c = blockIdx.x;
        long long m = (long long) outer * inner;
        double sum = 0.0;
        for (long long j = threadIdx.x; j < m; j += 256) {
          long long i = ((j / inner) * channels + c) * inner + j % inner;
          float v = x[i];
          if (!(v > 0.0f)) sum += (double) g[i] * (double) v;
        }
        sum = kiln_block_sum(sum, red);
        if (threadIdx.x == 0) {
          dw[c] = accumulate ? dw[c] + (float) sum : (float) sum;
        }
      }
      """;

  private PReluKernels() {}

  private static CudaKernel kernel(String name) {
    return CudaModule.of("kiln_prelu.cu", SOURCE).kernel(name);
  }

  /** {@code out = x > 0 ? x : w[c] * x}, x {@code [outer, channels, inner]} of {@code n} values. */
  public static void forward(long out, long x, long w, int channels, int inner, long n) {
    kernel("kiln_prelu_forward").launch1d(n, out, x, w, channels, inner, n);
  }

  /** The input's gradient {@code dx = x > 0 ? g : w[c] * g}. */
  public static void backward(long dx, long g, long x, long w, int channels, int inner, long n) {
    kernel("kiln_prelu_backward").launch1d(n, dx, g, x, w, channels, inner, n);
  }

  /** The slopes' gradient {@code dw[c] = sum(x > 0 ? 0 : g * x)} (added to {@code dw} when {@code accumulate}). */
  public static void slopeBackward(long dw, long g, long x, int outer, int channels, int inner, boolean accumulate) {
    if (channels == 0) {
      return;
    }
    kernel("kiln_prelu_slope_backward").launch(channels, 1, THREADS, 0, dw, g, x, outer, channels, inner, accumulate ? 1 : 0);
  }
}
