package dev.kiln.dsl;

import dev.kiln.runtime.Ops;
import dev.kiln.runtime.Tensor;

/**
 * Smooth L1 loss, as PyTorch's {@code nn.SmoothL1Loss(reduction, beta=1.0)}: with {@code z =
 * |prediction - target|}, {@code z^2 / (2 beta)} below beta and {@code z - beta / 2} from it (plain
 * L1 for beta 0); prediction and target have the same shape (any). {@link Reduction#MEAN} (the
 * default) averages over all elements, {@link Reduction#SUM} adds them, {@link Reduction#NONE}
 * returns them element-wise.
 */
public class SmoothL1Loss extends Loss {
  private final double beta;

  public SmoothL1Loss() {
    this(Reduction.MEAN, 1.0);
  }

  public SmoothL1Loss(double beta) {
    this(Reduction.MEAN, beta);
  }

  public SmoothL1Loss(Reduction reduction) {
    this(reduction, 1.0);
  }

  /** @throws IllegalArgumentException for a negative (or NaN) beta, as PyTorch's loss refuses it */
  public SmoothL1Loss(Reduction reduction, double beta) {
    super(reduction);
    if (!(beta >= 0) || !Float.isFinite((float) beta)) {
      throw new IllegalArgumentException("SmoothL1Loss: beta must be a finite float of 0 or more, got " + beta);
    }
    this.beta = beta;
  }

  public double beta() {
    return beta;
  }

  /**
   * The loss of {@code prediction} against {@code target}, reduced as {@link #reduction()} says.
   *
   * @throws IllegalArgumentException naming both shapes when they differ
   */
  @Override
  public Tensor apply(Tensor prediction, Tensor target) {
    return switch (reduction()) {
      case MEAN -> Ops.smoothL1Loss(prediction, target, beta, true);
      case SUM -> Ops.smoothL1Loss(prediction, target, beta, false);
      case NONE -> Ops.smoothL1LossPerElement(prediction, target, beta);
    };
  }
}
