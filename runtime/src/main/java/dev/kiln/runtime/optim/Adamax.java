package dev.kiln.runtime.optim;

import dev.kiln.runtime.Tensor;
import dev.kiln.runtime.cuda.OptimKernels;
import java.util.List;

/**
 * Adamax (Adam with the infinity norm) with PyTorch 1.13's {@code torch.optim.Adamax} update, per
 * parameter at its own step {@code t}:
 *
 * <pre>
 *   g = grad + weightDecay * p
 *   m = beta1 * m + (1 - beta1) * g                   (exp_avg)
 *   u = max(beta2 * u, |g| + eps)                     (exp_inf)
 *   p = p - lr / (1 - beta1^t) * m / u
 * </pre>
 *
 * Defaults as in PyTorch: lr 0.002 (give it), betas (0.9, 0.999), eps 1e-8, no weight decay.
 */
public final class Adamax extends MomentsOptimizer<Adamax> {
  public Adamax(List<Tensor> params, double lr) {
    super("Adamax", params, lr, "exp_avg", "exp_inf");
  }

  @Override
  long workPerElement() {
    return 6;
  }

  /** {@code -lr / (1 - beta1^t)}, in double as PyTorch's Python. */
  private float rate(double lr, int step) {
    return (float) (-(lr / (1 - Math.pow(beta1, step))));
  }

  // As PyTorch's CPU kernels round: add(x, alpha=a) one fused multiply-add, addcdiv_ x + (v a) / b;
  // amax keeps a NaN.
  @Override
  void updateRange(float[] p, float[] g, float[][] slots, int from, int to, int step, double lr, float decay) {
    float b1 = (float) beta1, keep1 = (float) (1 - beta1), b2 = (float) beta2, epsilon = (float) eps;
    float rate = rate(lr, step);
    float[] m = slots[0];
    float[] u = slots[1];
    for (int i = from; i < to; i++) {
      float gi = decay == 0f ? g[i] : Math.fma(p[i], decay, g[i]);
      float mi = Math.fma(gi, keep1, m[i] * b1);
      m[i] = mi;
      float ui = Math.max(u[i] * b2, Math.abs(gi) + epsilon); // Math.max keeps a NaN, as amax
      u[i] = ui;
      p[i] = p[i] + rate * mi / ui;
    }
  }

  @Override
  OptimKernels.Entry entry(long p, long g, long[] slots, int n, int step, double lr) {
    return OptimKernels.Entry.slots(p, g, slots[0], slots[1], 0L, n, rate(lr, step));
  }

  @Override
  void launch(List<OptimKernels.Entry> entries, double lr) {
    OptimKernels.adamax(entries, (float) beta1, (float) (1 - beta1), (float) beta2, (float) eps,
        (float) weightDecayOf(weightDecay));
  }
}
