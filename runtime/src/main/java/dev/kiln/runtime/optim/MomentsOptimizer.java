package dev.kiln.runtime.optim;

import dev.kiln.runtime.Tensor;
import java.util.List;

/**
 * The Adam family kept as two running slots ({@link Adamax}, {@link NAdam}, {@link RAdam}): the
 * settings they share, {@code betas}, {@code eps} and {@code weightDecay}, with PyTorch's defaults
 * (0.9, 0.999), 1e-8 and 0, and their checks.
 *
 * @param <S> the optimizer's own type, which the setters return
 */
abstract sealed class MomentsOptimizer<S extends MomentsOptimizer<S>> extends RunningStateOptimizer
    permits Adamax, NAdam, RAdam {
  double beta1 = 0.9;
  double beta2 = 0.999;
  double eps = 1e-8;
  double weightDecay;

  MomentsOptimizer(String name, List<Tensor> params, double lr, String slot0, String slot1) {
    super(name, params, lr, slot0, slot1);
  }

  @SuppressWarnings("unchecked")
  private S self() {
    return (S) this;
  }

  /** Called after a setting changed ({@link NAdam} forgets the products it derived from them). */
  void settingsChanged() {}

  /** Decay rates of the two running slots; each in [0, 1). */
  public S betas(double beta1, double beta2) {
    this.beta1 = beta("beta1", beta1);
    this.beta2 = beta("beta2", beta2);
    settingsChanged();
    return self();
  }

  /** Added to the denominator (Adamax: to |g|); finite and >= 0. */
  public S eps(double eps) {
    this.eps = nonNegative("eps", eps);
    return self();
  }

  /** L2 penalty added to the gradient; finite and >= 0. */
  public S weightDecay(double weightDecay) {
    this.weightDecay = nonNegative("weight decay", weightDecay);
    return self();
  }

  public double beta1() {
    return beta1;
  }

  public double beta2() {
    return beta2;
  }

  public double eps() {
    return eps;
  }

  @Override
  public double weightDecay() {
    return weightDecay;
  }

  @Override
  boolean keeps(int slot) {
    return true;
  }
}
