package dev.kiln.runtime.optim;

import dev.kiln.runtime.Tensor;
import dev.kiln.runtime.cuda.OptimKernels;
import java.util.List;

/**
 * RAdam (rectified Adam) with PyTorch 1.13's {@code torch.optim.RAdam} update, per parameter at its
 * own step {@code t}:
 *
 * <pre>
 *   g = grad + weightDecay * p
 *   m = beta1 * m + (1 - beta1) * g;   v = beta2 * v + (1 - beta2) * g * g
 *   rho_inf = 2 / (1 - beta2) - 1;     rho_t = rho_inf - 2 t beta2^t / (1 - beta2^t)
 *   rho_t > 5:  p = p - m / (1 - beta1^t) * lr * sqrt(1 - beta2^t) / (sqrt(v) + eps) * rect_t
 *               rect_t = sqrt((rho_t - 4)(rho_t - 2) rho_inf / ((rho_inf - 4)(rho_inf - 2) rho_t))
 *   else:       p = p - m / (1 - beta1^t) * lr
 * </pre>
 *
 * Defaults as in PyTorch: lr 0.001 (give it), betas (0.9, 0.999), eps 1e-8, no weight decay.
 */
public final class RAdam extends MomentsOptimizer<RAdam> {
  public RAdam(List<Tensor> params, double lr) {
    super("RAdam", params, lr, "exp_avg", "exp_avg_sq");
  }

  @Override
  long workPerElement() {
    return 10;
  }

  /** {@code 1 - beta1^t}, {@code sqrt(1 - beta2^t)} and the rectification (-1: none, the plain step), as floats. */
  private float[] scalars(int step) {
    double bc1 = 1 - Math.pow(beta1, step);
    double bc2 = 1 - Math.pow(beta2, step);
    double rhoInf = 2 / (1 - beta2) - 1;
    double rhoT = rhoInf - 2 * step * Math.pow(beta2, step) / bc2;
    double rect = rhoT > 5. ? Math.sqrt((rhoT - 4) * (rhoT - 2) * rhoInf / ((rhoInf - 4) * (rhoInf - 2) * rhoT)) : -1;
    return new float[] {(float) bc1, (float) Math.sqrt(bc2), (float) rect};
  }

  // As PyTorch's ops round: m / bc1 * lr, then (1 / (sqrt(v) + eps)) * sqrt(bc2) (Python's
  // scalar / tensor is reciprocal() * scalar), the product, times rect; add_(alpha=-1) subtracts.
  @Override
  void updateRange(float[] p, float[] g, float[][] slots, int from, int to, int step, double lr, float decay) {
    float b1 = (float) beta1, keep1 = (float) (1 - beta1), b2 = (float) beta2, keep2 = (float) (1 - beta2);
    float epsilon = (float) eps, rate = (float) lr;
    float[] s = scalars(step);
    float bc1 = s[0], bc2Sqrt = s[1], rect = s[2];
    float[] m = slots[0];
    float[] v = slots[1];
    for (int i = from; i < to; i++) {
      float gi = decay == 0f ? g[i] : Math.fma(p[i], decay, g[i]);
      float mi = Math.fma(gi, keep1, m[i] * b1);
      m[i] = mi;
      float vi = Math.fma(keep2 * gi, gi, v[i] * b2);
      v[i] = vi;
      float a = mi / bc1 * rate;
      if (rect >= 0f) {
        float r = 1f / ((float) Math.sqrt(vi) + epsilon) * bc2Sqrt;
        a = a * r * rect;
      }
      p[i] = p[i] - a;
    }
  }

  @Override
  OptimKernels.Entry entry(long p, long g, long[] slots, int n, int step, double lr) {
    float[] s = scalars(step);
    return OptimKernels.Entry.slots(p, g, slots[0], slots[1], n, s[0], s[1], s[2]);
  }

  @Override
  void launch(List<OptimKernels.Entry> entries, double lr) {
    OptimKernels.radam(entries, (float) lr, (float) beta1, (float) (1 - beta1), (float) beta2, (float) (1 - beta2),
        (float) eps, (float) weightDecayOf(weightDecay));
  }
}
