package dev.kiln.runtime.cuda;

/**
 * The optimizers' update rules on the device, one launch per parameter, in the same order of
 * float operations as the CPU loops of {@code SGD} and {@code AdamBase} (the GPU contracts
 * {@code a * b + c} into one rounding, so results agree to float rounding, not bit for bit).
 */
public final class OptimKernels {
  /** The CUDA C source, public so that a test can compile it without a GPU. */
  public static final String SOURCE = """
      // SGD with momentum, dampening, weight decay and Nesterov (torch.optim.SGD's rule).
      // buf may be null when momentum is 0; first: the momentum buffer starts as d.
      extern "C" __global__ void kiln_sgd(float* p, const float* g, float* buf, int n, float lr,
                                          float momentum, float dampening, float weightDecay,
                                          int nesterov, int first) {
        int i = blockIdx.x * blockDim.x + threadIdx.x;
        if (i >= n) return;
        float d = g[i] + weightDecay * p[i];
        if (buf == nullptr) {
          p[i] -= lr * d;
          return;
        }
        float b = first ? d : momentum * buf[i] + (1.0f - dampening) * d;
        buf[i] = b;
        p[i] -= lr * (nesterov ? d + momentum * b : b);
      }

      // Adam / AdamW (PyTorch 1.13's _single_tensor_adam); vmax is null unless amsgrad.
      extern "C" __global__ void kiln_adam(float* p, const float* g, float* m, float* v, float* vmax, int n,
                                           float b1, float b2, float keep1, float keep2, float l2, float shrink,
                                           float stepSize, float bc2Sqrt, float eps) {
        int i = blockIdx.x * blockDim.x + threadIdx.x;
        if (i >= n) return;
        float pi = p[i] * shrink;
        float gi = g[i] + l2 * pi;
        float mi = b1 * m[i] + keep1 * gi;
        float vi = b2 * v[i] + keep2 * gi * gi;
        m[i] = mi;
        v[i] = vi;
        if (vmax != nullptr) {
          vi = fmaxf(vmax[i], vi);
          vmax[i] = vi;
        }
        float denom = sqrtf(vi) / bc2Sqrt + eps;
        p[i] = pi - stepSize * mi / denom;
      }
      """;

  private OptimKernels() {}

  private static CudaKernel kernel(String name) {
    return CudaModule.of("kiln_optim.cu", SOURCE).kernel(name);
  }

  /** One SGD step of {@code n} values; {@code buf} is 0 (null) without momentum. */
  public static void sgd(long p, long g, long buf, int n, float lr, float momentum, float dampening, float weightDecay,
      boolean nesterov, boolean first) {
    kernel("kiln_sgd").launch1d(n, p, g, buf, n, lr, momentum, dampening, weightDecay, nesterov ? 1 : 0, first ? 1 : 0);
  }

  /** One Adam step of {@code n} values; {@code vmax} is 0 (null) unless amsgrad. */
  public static void adam(long p, long g, long m, long v, long vmax, int n, float b1, float b2, float keep1, float keep2,
      float l2, float shrink, float stepSize, float bc2Sqrt, float eps) {
    kernel("kiln_adam").launch1d(n, p, g, m, v, vmax, n, b1, b2, keep1, keep2, l2, shrink, stepSize, bc2Sqrt, eps);
  }
}
