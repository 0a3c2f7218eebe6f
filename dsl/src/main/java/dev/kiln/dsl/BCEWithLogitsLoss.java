package dev.kiln.dsl;

import dev.kiln.runtime.Ops;
import dev.kiln.runtime.Tensor;

/**
 * Binary cross-entropy on logits, as PyTorch's {@code nn.BCEWithLogitsLoss}: a sigmoid and the
 * binary cross-entropy in one stable step, for two-class (or multi-label) outputs. Prediction
 * (logits) and target (0 or 1, or soft labels in between) have one shape (any);
 * {@link Reduction#MEAN} (the default) averages over all elements. See
 * {@link Ops#binaryCrossEntropyWithLogitsPerElement}.
 */
public class BCEWithLogitsLoss extends Loss {
  public BCEWithLogitsLoss() {
    this(Reduction.MEAN);
  }

  public BCEWithLogitsLoss(Reduction reduction) {
    super(reduction);
  }

  /**
   * The loss of {@code logits} against {@code target}, reduced as {@link #reduction()} says.
   *
   * @throws IllegalArgumentException naming both shapes when they differ
   */
  @Override
  public Tensor apply(Tensor logits, Tensor target) {
    return switch (reduction()) {
      case MEAN -> Ops.binaryCrossEntropyWithLogits(logits, target, true);
      case SUM -> Ops.binaryCrossEntropyWithLogits(logits, target, false);
      case NONE -> Ops.binaryCrossEntropyWithLogitsPerElement(logits, target);
    };
  }
}
