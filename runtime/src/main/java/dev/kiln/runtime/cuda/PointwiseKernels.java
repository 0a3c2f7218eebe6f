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

  private static String source() {
    StringBuilder s = new StringBuilder();
    s.append("// generated from cpu.PointwiseKernels' table: case k is the entry of ordinal k\n");
    s.append("__device__ float kiln_unary_value(int fn, float v) {\n  switch (fn) {\n");
    for (Unary u : Unary.values()) {
      s.append("    case ").append(u.ordinal()).append(": return ").append(u.cudaForward).append("; // ").append(u.opName).append('\n');
    }
    s.append("    default: return 0.0f;\n  }\n}\n\n");
    s.append("__device__ float kiln_unary_gradient(int fn, float g, float v, float y) {\n  switch (fn) {\n");
    for (Unary u : Unary.values()) {
      s.append("    case ").append(u.ordinal()).append(": return ").append(u.cudaBackward == null ? "0.0f" : u.cudaBackward)
          .append("; // ").append(u.opName).append('\n');
    }
    s.append("    default: return 0.0f;\n  }\n}\n\n");
    s.append("__device__ float kiln_binary_value(int fn, float a, float b) {\n  switch (fn) {\n");
    for (Binary f : Binary.values()) {
      s.append("    case ").append(f.ordinal()).append(": return ").append(f.cudaForward).append("; // ").append(f.opName).append('\n');
    }
    s.append("    default: return 0.0f;\n  }\n}\n\n");
    s.append("__device__ float kiln_binary_gradient(int fn, int second, float g, float a, float b) {\n  switch (fn) {\n");
    for (Binary f : Binary.values()) {
      if (f.differentiable()) {
        s.append("    case ").append(f.ordinal()).append(": return second ? (").append(f.cudaBackwardB).append(") : (")
            .append(f.cudaBackwardA).append("); // ").append(f.opName).append('\n');
      }
    }
    s.append("    default: return 0.0f;\n  }\n}\n");
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
