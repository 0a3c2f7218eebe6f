package dev.kiln.dsl;

import dev.kiln.runtime.Ops;
import dev.kiln.runtime.Tensor;

/**
 * Huber loss, as PyTorch's {@code nn.HuberLoss(reduction, delta=1.0)}: with {@code z = |prediction -
 * target|}, {@code z^2 / 2} below delta and {@code delta (z - delta / 2)} from it (delta times
 * {@link SmoothL1Loss} of beta delta); prediction and target have the same shape (any), reduced as
 * {@link Reduction} says (the mean by default).
 */
public class HuberLoss extends Loss {
  private final double delta;

  public HuberLoss() {
    this(Reduction.MEAN, 1.0);
  }

  public HuberLoss(double delta) {
    this(Reduction.MEAN, delta);
  }

  public HuberLoss(Reduction reduction) {
    this(reduction, 1.0);
  }

  /** @throws IllegalArgumentException for a delta not above 0, as PyTorch's loss refuses it */
  public HuberLoss(Reduction reduction, double delta) {
    super(reduction);
    if (!(delta > 0) || !Float.isFinite((float) delta)) {
      throw new IllegalArgumentException("HuberLoss: delta must be a finite float above 0, got " + delta);
    }
    this.delta = delta;
  }

  public double delta() {
    return delta;
  }

  /**
   * The loss of {@code prediction} against {@code target}, reduced as {@link #reduction()} says.
   *
   * @throws IllegalArgumentException naming both shapes when they differ
   */
  @Override
  public Tensor apply(Tensor prediction, Tensor target) {
    return switch (reduction()) {
      case MEAN -> Ops.huberLoss(prediction, target, delta, true);
      case SUM -> Ops.huberLoss(prediction, target, delta, false);
      case NONE -> Ops.huberLossPerElement(prediction, target, delta);
    };
  }
}
