package dev.kiln.runtime.optim;

/**
 * Multiplies each group's learning rate by {@code gamma} every epoch, like PyTorch's
 * {@code ExponentialLR}: {@code lr = base_lr * gamma^epoch}.
 */
public final class ExponentialLR extends LRScheduler {
  private final double gamma;

  public ExponentialLR(Optimizer optimizer, double gamma) {
    super(optimizer);
    this.gamma = checkGamma("ExponentialLR", gamma);
  }

  @Override
  protected double nextLr(int group, double lr, double baseLr, int epoch) {
    return lr * gamma;
  }

  @Override
  protected double lrAt(int group, double baseLr, int epoch) {
    return baseLr * Math.pow(gamma, epoch);
  }
}
