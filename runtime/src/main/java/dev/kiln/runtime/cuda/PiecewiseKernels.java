package dev.kiln.runtime.cuda;

/**
 * Piecewise activations and losses on the GPU: the CUDA twins of {@code cpu.PiecewiseKernels}
 * (softplus, ELU, hardtanh's gradient, smooth L1 and Huber), with the same branches and the same
 * formulas in double, rounded once, so that the two backends agree to float rounding. One thread
 * per element.
 */
public final class PiecewiseKernels {
  private PiecewiseKernels() {}

  /** The CUDA C source, public so that a test can compile it without a GPU. */
  public static final String SOURCE = """
      // out = x beta > threshold ? x : log1p(exp(x beta)) / beta, x beta rounded to float first
      extern "C" __global__ void kiln_softplus_forward(float* out, const float* x, float beta, float threshold, long long n) {
        long long i = (long long) blockIdx.x * blockDim.x + threadIdx.x;
        if (i < n) {
          float v = x[i], z = __fmul_rn(v, beta);
          out[i] = z > threshold ? v : (float) (log1p(exp((double) z)) / (double) beta);
        }
      }

      // dx = x beta > threshold ? g : g e / (e + 1), e = exp(x beta)
      extern "C" __global__ void kiln_softplus_backward(float* dx, const float* g, const float* x, float beta, float threshold,
          long long n) {
        long long i = (long long) blockIdx.x * blockDim.x + threadIdx.x;
        if (i < n) {
          float z = __fmul_rn(x[i], beta);
          double e = exp((double) z);
          dx[i] = z > threshold ? g[i] : (float) ((double) g[i] * (e / (e + 1.0)));
        }
      }

      // out = x > 0 ? x : alpha expm1(x)
      extern "C" __global__ void kiln_elu_forward(float* out, const float* x, float alpha, long long n) {
        long long i = (long long) blockIdx.x * blockDim.x + threadIdx.x;
        if (i < n) {
          float v = x[i];
          out[i] = v <= 0.0f ? (float) ((double) alpha * expm1((double) v)) : v;
        }
      }

      // dx = x > 0 ? g : g alpha exp(x)
      extern "C" __global__ void kiln_elu_backward(float* dx, const float* g, const float* x, float alpha, long long n) {
        long long i = (long long) blockIdx.x * blockDim.x + threadIdx.x;
        if (i < n) {
          float v = x[i];
          dx[i] = v <= 0.0f ? (float) ((double) g[i] * (double) alpha * exp((double) v)) : g[i];
        }
      }

      // dx = lo < x < hi ? g : 0 (g at NaN), hardtanh's gradient
      extern "C" __global__ void kiln_hardtanh_backward(float* dx, const float* g, const float* x, float lo, float hi, long long n) {
        long long i = (long long) blockIdx.x * blockDim.x + threadIdx.x;
        if (i < n) {
          float v = x[i];
          dx[i] = v <= lo || v >= hi ? 0.0f : g[i];
        }
      }

      // smooth L1 (huber 0) or Huber loss of d = x - t (rounded to float), param beta or delta
      extern "C" __global__ void kiln_smooth_l1_forward(float* out, const float* x, const float* t, float param, int huber,
          long long n) {
        long long i = (long long) blockIdx.x * blockDim.x + threadIdx.x;
        if (i < n) {
          double z = fabs((double) __fsub_rn(x[i], t[i]));
          double b = param;
          out[i] = (float) (huber ? (z < b ? 0.5 * z * z : b * (z - 0.5 * b))
                                  : (b == 0.0 ? z : z < b ? 0.5 * z * z / b : z - 0.5 * b));
        }
      }

      // the input's gradient of the above (the target's is its negative)
      extern "C" __global__ void kiln_smooth_l1_backward(float* dx, const float* g, const float* x, const float* t, float param,
          int huber, long long n) {
        long long i = (long long) blockIdx.x * blockDim.x + threadIdx.x;
        if (i < n) {
          double d = (double) __fsub_rn(x[i], t[i]);
          double b = param;
          double sign = d > 0.0 ? 1.0 : d < 0.0 ? -1.0 : d;
          double slope = huber ? (d <= -b ? -b : d >= b ? b : d)
                               : (b == 0.0 ? sign : d <= -b ? -1.0 : d >= b ? 1.0 : d / b);
          dx[i] = (float) ((double) g[i] * slope);
        }
      }
      """;

  public static void softplusForward(long out, long x, float beta, float threshold, long n) {
    kernel("kiln_softplus_forward").launch1d(n, out, x, beta, threshold, n);
  }

  public static void softplusBackward(long dx, long g, long x, float beta, float threshold, long n) {
    kernel("kiln_softplus_backward").launch1d(n, dx, g, x, beta, threshold, n);
  }

  public static void eluForward(long out, long x, float alpha, long n) {
    kernel("kiln_elu_forward").launch1d(n, out, x, alpha, n);
  }

  public static void eluBackward(long dx, long g, long x, float alpha, long n) {
    kernel("kiln_elu_backward").launch1d(n, dx, g, x, alpha, n);
  }

  public static void hardtanhBackward(long dx, long g, long x, float lo, float hi, long n) {
    kernel("kiln_hardtanh_backward").launch1d(n, dx, g, x, lo, hi, n);
  }

  /** Per-element smooth L1 ({@code huber} false, {@code param} beta) or Huber ({@code param} delta) losses. */
  public static void smoothL1Forward(long out, long x, long t, float param, boolean huber, long n) {
    kernel("kiln_smooth_l1_forward").launch1d(n, out, x, t, param, huber ? 1 : 0, n);
  }

  /** The input's gradient of {@link #smoothL1Forward}. */
  public static void smoothL1Backward(long dx, long g, long x, long t, float param, boolean huber, long n) {
    kernel("kiln_smooth_l1_backward").launch1d(n, dx, g, x, t, param, huber ? 1 : 0, n);
  }

  private static CudaKernel kernel(String name) {
    return CudaModule.of("kiln_piecewise.cu", SOURCE).kernel(name);
  }
}
