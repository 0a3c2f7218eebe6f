package dev.kiln.runtime.optim;

/**
 * Scales each group's learning rate by a factor that goes linearly from {@code startFactor} to
 * {@code endFactor} over {@code totalIters} epochs, then stays, like PyTorch's {@code LinearLR}: the
 * usual warmup ({@code new LinearLR(opt, 0.1, 1.0, 5)}, often first in a {@link SequentialLR}).
 * Construction sets the rates of epoch 0, {@code lr * startFactor}. Unless a rate is changed by
 * hand, the rates are PyTorch's closed form, up to float rounding:
 *
 * <pre>
 *   lr = base_lr * (startFactor + (endFactor - startFactor) * min(epoch, totalIters) / totalIters)
 * </pre>
 */
public final class LinearLR extends LRScheduler {
  private final double startFactor;
  private final double endFactor;
  private final int totalIters;

  /** Factors in [0, 1] ({@code startFactor} > 0), {@code totalIters} >= 1. */
  public LinearLR(Optimizer optimizer, double startFactor, double endFactor, int totalIters) {
    super(optimizer);
    this.startFactor = checkFactor("LinearLR", "startFactor", startFactor, false);
    this.endFactor = checkFactor("LinearLR", "endFactor", endFactor, true);
    this.totalIters = checkPositive("LinearLR", "totalIters", totalIters);
    initialStep();
  }

  /** With PyTorch's defaults: {@code startFactor} 1/3, {@code endFactor} 1, {@code totalIters} 5. */
  public LinearLR(Optimizer optimizer) {
    this(optimizer, 1.0 / 3, 1.0, 5);
  }

  @Override
  protected double epochZeroLr(int group, double lr, double baseLr) {
    return lr * startFactor;
  }

  @Override
  protected double nextLr(int group, double lr, double baseLr, int epoch) {
    if (epoch > totalIters) {
      return lr;
    }
    return lr * (1. + (endFactor - startFactor) / (totalIters * startFactor + (epoch - 1) * (endFactor - startFactor)));
  }

  @Override
  protected double lrAt(int group, double baseLr, int epoch) {
    return baseLr * (startFactor + (endFactor - startFactor) * Math.min(totalIters, epoch) / totalIters);
  }

  /**
   * Throws unless {@code factor} is in [0, 1] as PyTorch requires; a zero start factor is refused
   * too (PyTorch's chainable form divides by it and gives NaN), unless {@code zeroOk}.
   */
  static double checkFactor(String scheduler, String what, double factor, boolean zeroOk) {
    if (!(factor >= 0 && factor <= 1) || (!zeroOk && factor == 0)) {
      throw new IllegalArgumentException(scheduler + ": " + what + " must be in " + (zeroOk ? "[0, 1]" : "(0, 1]")
          + " (a multiplicative factor), got " + factor);
    }
    return factor;
  }
}
