package dev.kiln.dsl;

import dev.kiln.runtime.Ops;
import dev.kiln.runtime.Tensor;

/**
 * Squared error {@code (prediction - target)^2}, as PyTorch's {@code nn.MSELoss}: prediction and
 * target have the same shape (any). {@link Reduction#MEAN} (the default) averages over all
 * elements, {@link Reduction#SUM} adds them, {@link Reduction#NONE} returns them element-wise.
 */
public class MSELoss extends Loss {
  public MSELoss() {
    this(Reduction.MEAN);
  }

  public MSELoss(Reduction reduction) {
    super(reduction);
  }

  /**
   * The loss of {@code prediction} against {@code target}, reduced as {@link #reduction()} says.
   *
   * @throws IllegalArgumentException naming both shapes when they differ
   */
  @Override
  public Tensor apply(Tensor prediction, Tensor target) {
    return switch (reduction()) {
      case MEAN -> Ops.mseLoss(prediction, target, true);
      case SUM -> Ops.mseLoss(prediction, target, false);
      case NONE -> Ops.mseLossPerElement(prediction, target);
    };
  }
}
