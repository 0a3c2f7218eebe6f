package dev.kiln.runtime.optim;

/**
 * Scales each group's learning rate by {@code factor} for the first {@code totalIters} epochs, then
 * gives the base rate back, like PyTorch's {@code ConstantLR}: construction sets the rates of epoch
 * 0, {@code lr * factor}, and epoch {@code totalIters} divides by {@code factor}.
 */
public final class ConstantLR extends LRScheduler {
  private final double factor;
  private final int totalIters;

  /** {@code factor} in (0, 1], {@code totalIters} >= 1. */
  public ConstantLR(Optimizer optimizer, double factor, int totalIters) {
    super(optimizer);
    this.factor = LinearLR.checkFactor("ConstantLR", "factor", factor, false);
    this.totalIters = checkPositive("ConstantLR", "totalIters", totalIters);
    initialStep();
  }

  /** With PyTorch's defaults: {@code factor} 1/3, {@code totalIters} 5. */
  public ConstantLR(Optimizer optimizer) {
    this(optimizer, 1.0 / 3, 5);
  }

  @Override
  protected double epochZeroLr(int group, double lr, double baseLr) {
    return lr * factor;
  }

  @Override
  protected double nextLr(int group, double lr, double baseLr, int epoch) {
    return epoch == totalIters ? lr * (1.0 / factor) : lr;
  }

  @Override
  protected double lrAt(int group, double baseLr, int epoch) {
    return baseLr * (factor + (epoch >= totalIters ? 1 : 0) * (1 - factor));
  }
}
