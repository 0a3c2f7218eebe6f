package dev.kiln.runtime.cuda;

import dev.kiln.runtime.cpu.PointwiseKernels.Binary;
import dev.kiln.runtime.cpu.PointwiseKernels.Unary;

/**
 * The GPU side of {@code cpu.PointwiseKernels}' table: four kernels (one-input and two-input
 * functions, each way) whose body is a switch built from the table's CUDA C expressions, indexed by
 * the entry's ordinal, so that adding a function to the table adds it on both devices. One thread
 * per element.
 */
public final class PointwiseKernels {
  private PointwiseKernels() {}

  /** The CUDA C source, public so that a test can compile it without a GPU. */
  public static final String SOURCE = source();

  /** A device function {@code signature} whose body is a switch on {@code fn}: case k returns {@code bodies[k]} (0 where null). */
  private static void switchOver(StringBuilder s, String signature, Enum<?>[] entries, String[] bodies) {
    s.append("__device__ float ").append(signature).append(" {\n  switch (fn) {\n");
    for (int k = 0; k < entries.length; k++) {
      if (bodies[k] != null) {
        s.append("    case ").append(k).append(": return ").append(bodies[k]).append("; // ").append(entries[k]).append('\n');
      }
    }
    s.append("    default: return 0.0f;\n  }\n}\n\n");
  }

  private static String source() {
    StringBuilder s = new StringBuilder();
    s.append("// generated from cpu.PointwiseKernels' table: case k is the entry of ordinal k\n");
    Unary[] u = Unary.values();
    Binary[] b = Binary.values();
    switchOver(s, "kiln_unary_value(int fn, float v)", u, java.util.Arrays.stream(u).map(f -> f.cudaForward).toArray(String[]::new));
    switchOver(s, "kiln_unary_gradient(int fn, float g, float v, float y)", u,
        java.util.Arrays.stream(u).map(f -> f.cudaBackward).toArray(String[]::new));
    switchOver(s, "kiln_binary_value(int fn, float a, float b)", b, java.util.Arrays.stream(b).map(f -> f.cudaForward).toArray(String[]::new));
    switchOver(s, "kiln_binary_gradient(int fn, int second, float g, float a, float b)", b, java.util.Arrays.stream(b)
        .map(f -> f.differentiable() ? "second ? (" + f.cudaBackwardB + ") : (" + f.cudaBackwardA + ")" : null).toArray(String[]::new));
    s.append("""

        extern "C" __global__ void kiln_pointwise_forward(float* out, const float* x, int fn, long long n) {
          long long i = (long long) blockIdx.x * blockDim.x + threadIdx.x;
          if (i < n) out[i] = kiln_unary_value(fn, x[i]);
        }

        extern "C" __global__ void kiln_pointwise_backward(float* dx, const float* g, const float* x, const float* y, int fn,
            long long n) {
          long long i = (long long) blockIdx.x * blockDim.x + threadIdx.x;
          if (i < n) dx[i] = kiln_unary_gradient(fn, g[i], x[i], y[i]);
        }

        extern "C" __global__ void kiln_binary_forward(float* out, const float* a, const float* b, int fn, long long n) {
          long long i = (long long) blockIdx.x * blockDim.x + threadIdx.x;
          if (i < n) out[i] = kiln_binary_value(fn, a[i], b[i]);
        }

        // one operand's gradient (second: b's, else a's)
        extern "C" __global__ void kiln_binary_backward(float* d, const float* g, const float* a, const float* b, int fn,
            int second, long long n) {
          long long i = (long long) blockIdx.x * blockDim.x + threadIdx.x;
          if (i < n) d[i] = kiln_binary_gradient(fn, second, g[i], a[i], b[i]);
        }
        """);
    return s.toString();
  }

  /** {@code out = f(x)} for {@code n} values. */
  public static void forward(Unary f, long out, long x, long n) {
    kernel("kiln_pointwise_forward").launch1d(n, out, x, f.ordinal(), n);
  }

  /** {@code dx = f'(x) g} by the table's formula. */
  public static void backward(Unary f, long dx, long g, long x, long y, long n) {
    kernel("kiln_pointwise_backward").launch1d(n, dx, g, x, y, f.ordinal(), n);
  }

  /** {@code out = f(a, b)} for {@code n} values of same-shape operands. */
  public static void forward(Binary f, long out, long a, long b, long n) {
    kernel("kiln_binary_forward").launch1d(n, out, a, b, f.ordinal(), n);
  }

  /** One operand's gradient of a differentiable {@link Binary}: b's when {@code second}, else a's. */
  public static void backward(Binary f, long d, long g, long a, long b, boolean second, long n) {
    kernel("kiln_binary_backward").launch1d(n, d, g, a, b, f.ordinal(), second ? 1 : 0, n);
  }

  private static CudaKernel kernel(String name) {
    return CudaModule.of("kiln_pointwise.cu", SOURCE).kernel(name);
  }
}
