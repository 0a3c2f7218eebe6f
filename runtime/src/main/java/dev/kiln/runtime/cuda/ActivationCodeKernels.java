package dev.kiln.runtime.cuda;

/**
 * The activations of {@code cpu.ActivationCodeKernels} on the GPU (hardswish, hardsigmoid, Mish, SELU, CELU,
 * softsign, log-sigmoid, tanhshrink), picked by the same codes, with the same branches and formulas in double, rounded
 * once, so that the two backends agree to float rounding. One thread per element.
 */
public final class ActivationCodeKernels {
  private ActivationCodeKernels() {}

  /** The CUDA C source, public so that a test can compile it without a GPU. */
  public static final String SOURCE = """
      #define KILN_SELU_ALPHA 1.6732632423543772848170429916717
      #define KILN_SELU_SCALE 1.0507009873554804934193349852946

      // the activation op (cpu.ActivationCodeKernels' codes) at v, a its parameter (CELU's alpha)
      __device__ double kiln_activation_value(int op, double v, double a) {
        switch (op) {
          case 0: return v * fmin(fmax(v + 3.0, 0.0), 6.0) / 6.0;
          case 1: return fmin(fmax(v + 3.0, 0.0), 6.0) / 6.0;
          case 2: return v * tanh(log1p(exp(v)));
          case 3: return KILN_SELU_SCALE * (v > 0.0 ? v : KILN_SELU_ALPHA * expm1(v));
          case 4: return v > 0.0 ? v : a * expm1(v / a);
          case 5: return v / (1.0 + fabs(v));
          case 6: return fmin(v, 0.0) - log1p(exp(-fabs(v)));
          default: return v - tanh(v);
        }
      }

      // its derivative at v
      __device__ double kiln_activation_slope(int op, double v, double a) {
        switch (op) {
          case 0: return v < -3.0 ? 0.0 : v <= 3.0 ? v / 3.0 + 0.5 : 1.0;
          case 1: return v > -3.0 && v < 3.0 ? 1.0 / 6.0 : 0.0;
          case 2: {
            double s = 1.0 / (1.0 + exp(-v)), t = tanh(log1p(exp(v)));
            return t + v * s * (1.0 - t * t);
          }
          case 3: return v > 0.0 ? KILN_SELU_SCALE : KILN_SELU_SCALE * KILN_SELU_ALPHA * exp(v);
          case 4: return v > 0.0 ? 1.0 : exp(v / a);
          case 5: { double d = 1.0 + fabs(v); return 1.0 / (d * d); }
          case 6: return 1.0 / (1.0 + exp(v));
          default: { double t = tanh(v); return t * t; }
        }
      }

      extern "C" __global__ void kiln_activation_code_forward(float* out, const float* x, int op, float a, long long n) {
        long long i = (long long) blockIdx.x * blockDim.x + threadIdx.x;
        if (i < n) {
          out[i] = (float) kiln_activation_value(op, (double) x[i], (double) a);
        }
      }

      extern "C" __global__ void kiln_activation_code_backward(float* dx, const float* g, const float* x, int op, float a, long long n) {
        long long i = (long long) blockIdx.x * blockDim.x + threadIdx.x;
        if (i < n) {
          dx[i] = (float) ((double) g[i] * kiln_activation_slope(op, (double) x[i], (double) a));
        }
      }
      """;

  /** {@code out = f(x)} for the activation {@code op} (a {@code cpu.ActivationCodeKernels} code). */
  public static void forward(int op, long out, long x, float a, long n) {
    kernel("kiln_activation_code_forward").launch1d(n, out, x, op, a, n);
  }

  /** {@code dx = g f'(x)}. */
  public static void backward(int op, long dx, long g, long x, float a, long n) {
    kernel("kiln_activation_code_backward").launch1d(n, dx, g, x, op, a, n);
  }

  private static CudaKernel kernel(String name) {
    return CudaModule.of("kiln_activation_code.cu", SOURCE).kernel(name);
  }
}
