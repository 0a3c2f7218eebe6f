package dev.kiln.dsl;

import dev.kiln.runtime.Ops;
import dev.kiln.runtime.Tensor;

/**
 * Absolute error {@code |prediction - target|}, as PyTorch's {@code nn.L1Loss}: prediction and
 * target have the same shape (any). {@link Reduction#MEAN} (the default) averages over all
 * elements, {@link Reduction#SUM} adds them, {@link Reduction#NONE} returns them element-wise.
 */
public class L1Loss extends Loss {
  public L1Loss() {
    this(Reduction.MEAN);
  }

  public L1Loss(Reduction reduction) {
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
      case MEAN -> Ops.l1Loss(prediction, target, true);
      case SUM -> Ops.l1Loss(prediction, target, false);
      case NONE -> Ops.l1LossPerElement(prediction, target);
    };
  }
}
