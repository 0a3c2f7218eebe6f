package dev.kiln.runtime.optim;

import dev.kiln.runtime.Tensor;
import dev.kiln.runtime.cuda.OptimKernels;
import java.util.ArrayList;
import java.util.List;

/**
 * NAdam (Adam with Nesterov momentum) with PyTorch 1.13's {@code torch.optim.NAdam} update, per
 * parameter at its own step {@code t}:
 *
 * <pre>
 *   g      = grad + weightDecay * p
 *   mu_t   = beta1 * (1 - 0.5 * 0.96^(t * momentumDecay))
 *   prod_t = mu_1 * ... * mu_t                        (mu_product, float32 as PyTorch's)
 *   m = beta1 * m + (1 - beta1) * g;   v = beta2 * v + (1 - beta2) * g * g
 *   denom = sqrt(v / (1 - beta2^t)) + eps
 *   p = p - lr * (1 - mu_t) / (1 - prod_t) * g / denom
 *   p = p - lr * mu_{t+1} / (1 - prod_t * mu_t * mu_{t+1}) * m / denom
 * </pre>
 *
 * Defaults as in PyTorch: lr 0.002 (give it), betas (0.9, 0.999), eps 1e-8, momentumDecay 0.004,
 * no weight decay. {@code mu_product} is a function of the step count and the settings, so the
 * state dict holds {@code step}, {@code exp_avg} and {@code exp_avg_sq} only. PyTorch's
 * {@code mu_product * mu} (sic: its {@code mu_product_next}) is kept as it is.
 */
public final class NAdam extends MomentsOptimizer<NAdam> {
  private double momentumDecay = 4e-3;
  /** mu_product after each step t (index t; 1 at 0), in float32 as PyTorch's tensor; grown as steps come. */
  private final List<Float> muProducts = new ArrayList<>(List.of(1f));

  public NAdam(List<Tensor> params, double lr) {
    super("NAdam", params, lr, "exp_avg", "exp_avg_sq");
  }

  /** PyTorch's {@code momentum_decay} (psi); finite and >= 0. */
  public NAdam momentumDecay(double momentumDecay) {
    this.momentumDecay = nonNegative("momentum decay", momentumDecay);
    settingsChanged();
    return this;
  }

  @Override
  void settingsChanged() {
    muProducts.subList(1, muProducts.size()).clear();
  }

  public double momentumDecay() {
    return momentumDecay;
  }

  @Override
  long workPerElement() {
    return 10;
  }

  private double mu(int step) {
    return beta1 * (1. - 0.5 * Math.pow(0.96, step * momentumDecay));
  }

  /** PyTorch's float32 {@code mu_product} after {@code step}: {@code mu_product *= mu} each step. */
  private float muProduct(int step) {
    while (muProducts.size() <= step) {
      int t = muProducts.size();
      muProducts.add(muProducts.get(t - 1) * (float) mu(t));
    }
    return muProducts.get(step);
  }

  /** The gradient's rate, the first moment's rate and {@code 1 - beta2^t} at {@code step}, as floats. */
  private float[] scalars(double lr, int step) {
    double mu = mu(step);
    double muNext = mu(step + 1);
    float prod = muProduct(step);
    float prodNext = prod * (float) mu * (float) muNext;
    return new float[] {
      (float) (-lr * (1. - mu) / (1. - prod)), (float) (-lr * muNext / (1. - prodNext)), (float) (1 - Math.pow(beta2, step))};
  }

  // As PyTorch's CPU kernels round: add(x, alpha=a) and addcmul_ one fused multiply-add each,
  // addcdiv_ x + (v a) / b.
  @Override
  void updateRange(float[] p, float[] g, float[][] slots, int from, int to, int step, double lr, float decay) {
    float b1 = (float) beta1, keep1 = (float) (1 - beta1), b2 = (float) beta2, keep2 = (float) (1 - beta2);
    float epsilon = (float) eps;
    float[] s = scalars(lr, step);
    float rateG = s[0], rateM = s[1], bc2 = s[2];
    float[] m = slots[0];
    float[] v = slots[1];
    for (int i = from; i < to; i++) {
      float gi = decay == 0f ? g[i] : Math.fma(p[i], decay, g[i]);
      float mi = Math.fma(gi, keep1, m[i] * b1);
      m[i] = mi;
      float vi = Math.fma(keep2 * gi, gi, v[i] * b2);
      v[i] = vi;
      float denom = (float) Math.sqrt(vi / bc2) + epsilon;
      float pi = p[i] + rateG * gi / denom;
      p[i] = pi + rateM * mi / denom;
    }
  }

  @Override
  OptimKernels.Entry entry(long p, long g, long[] slots, int n, int step, double lr) {
    float[] s = scalars(lr, step);
    return OptimKernels.Entry.slots(p, g, slots[0], slots[1], n, s[0], s[1], s[2]);
  }

  @Override
  void launch(List<OptimKernels.Entry> entries, double lr) {
    OptimKernels.nadam(entries, (float) beta1, (float) (1 - beta1), (float) beta2, (float) (1 - beta2), (float) eps,
        (float) weightDecayOf(weightDecay));
  }
}
