package dev.kiln.runtime.optim;

/**
 * Multiplies each group's learning rate by {@code gamma} every {@code stepSize} epochs, like
 * PyTorch's {@code StepLR}: {@code lr = base_lr * gamma^floor(epoch / stepSize)}.
 */
public final class StepLR extends LRScheduler {
  private final int stepSize;
  private final double gamma;

  public StepLR(Optimizer optimizer, int stepSize, double gamma) {
    super(optimizer);
    this.stepSize = checkPositive("StepLR", "step size", stepSize);
    this.gamma = checkGamma("StepLR", gamma);
  }

  /** With PyTorch's default {@code gamma} of 0.1. */
  public StepLR(Optimizer optimizer, int stepSize) {
    this(optimizer, stepSize, 0.1);
  }

  @Override
  protected double nextLr(int group, double lr, double baseLr, int epoch) {
    return epoch % stepSize == 0 ? lr * gamma : lr;
  }

  @Override
  protected double lrAt(int group, double baseLr, int epoch) {
    return baseLr * Math.pow(gamma, epoch / stepSize);
  }
}
