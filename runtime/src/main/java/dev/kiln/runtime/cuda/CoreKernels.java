package dev.kiln.runtime.cuda;

/**
 * The few kernels the tensor machinery itself needs on the device (the autograd engine summing
 * gradients, filling): compiled at first use like every other family.
 */
public final class CoreKernels {
  /** The CUDA C source, public so that a test can compile it without a GPU. */
  public static final String SOURCE = """
      extern "C" __global__ void kiln_fill(float* out, float value, long long n) {
        long long i = (long long) blockIdx.x * blockDim.x + threadIdx.x;
        if (i < n) out[i] = value;
      }

      // out[i] += x[i]
      extern "C" __global__ void kiln_add_into(float* out, const float* x, long long n) {
        long long i = (long long) blockIdx.x * blockDim.x + threadIdx.x;
        if (i < n) out[i] += x[i];
      }

      // out[i] = a[i] + b[i]
      extern "C" __global__ void kiln_add(float* out, const float* a, const float* b, long long n) {
        long long i = (long long) blockIdx.x * blockDim.x + threadIdx.x;
        if (i < n) out[i] = a[i] + b[i];
      }
      """;

  private CoreKernels() {}

  private static CudaKernel kernel(String name) {
    return CudaModule.of("kiln_core.cu", SOURCE).kernel(name);
  }

  /** {@code out[0..n) = value}. */
  public static void fill(long out, float value, long n) {
    kernel("kiln_fill").launch1d(n, out, value, n);
  }

  /** {@code out[i] += x[i]} for {@code i < n}. */
  public static void addInto(long out, long x, long n) {
    kernel("kiln_add_into").launch1d(n, out, x, n);
  }

  /** {@code out[i] = a[i] + b[i]} for {@code i < n}. */
  public static void add(long out, long a, long b, long n) {
    kernel("kiln_add").launch1d(n, out, a, b, n);
  }
}
