package dev.kiln.runtime.optim;

/**
 * Decays each group's learning rate to zero over {@code totalIters} epochs along a polynomial of
 * degree {@code power}, like PyTorch's {@code PolynomialLR}; it stays at zero afterwards. Unless a
 * rate is changed by hand, the rates are the closed form, up to float rounding:
 *
 * <pre>
 *   lr = base_lr * (1 - min(epoch, totalIters) / totalIters)^power
 * </pre>
 */
public final class PolynomialLR extends LRScheduler {
  private final int totalIters;
  private final double power;

  /** {@code totalIters} >= 1, {@code power} finite and >= 0. */
  public PolynomialLR(Optimizer optimizer, int totalIters, double power) {
    super(optimizer);
    this.totalIters = checkPositive("PolynomialLR", "totalIters", totalIters);
    if (!(power >= 0) || Double.isInfinite(power)) {
      throw new IllegalArgumentException("PolynomialLR: power must be finite and >= 0, got " + power);
    }
    this.power = power;
  }

  /** With PyTorch's defaults: {@code totalIters} 5, {@code power} 1. */
  public PolynomialLR(Optimizer optimizer) {
    this(optimizer, 5, 1.0);
  }

  @Override
  protected double nextLr(int group, double lr, double baseLr, int epoch) {
    if (epoch > totalIters) {
      return lr;
    }
    double decay = Math.pow((1.0 - (double) epoch / totalIters) / (1.0 - (double) (epoch - 1) / totalIters), power);
    return lr * decay;
  }

  @Override
  protected double lrAt(int group, double baseLr, int epoch) {
    return baseLr * Math.pow(1.0 - (double) Math.min(totalIters, epoch) / totalIters, power);
  }
}
