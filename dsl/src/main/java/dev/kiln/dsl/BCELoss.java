package dev.kiln.dsl;

import dev.kiln.runtime.Ops;
import dev.kiln.runtime.Tensor;

/**
 * Binary cross-entropy on probabilities, as PyTorch's {@code nn.BCELoss}: the prediction is a
 * sigmoid's output in [0, 1] (anything else is refused), the target 0 or 1 (or in between), of one
 * shape; {@link Reduction#MEAN} (the default) averages over all elements. The logs are clamped at
 * -100, as PyTorch's; {@link BCEWithLogitsLoss} on the logits is the stable form. See
 * {@link Ops#binaryCrossEntropyPerElement}.
 */
public class BCELoss extends Loss {
  public BCELoss() {
    this(Reduction.MEAN);
  }

  public BCELoss(Reduction reduction) {
    super(reduction);
  }

  /**
   * The loss of {@code probabilities} against {@code target}, reduced as {@link #reduction()} says.
   *
   * @throws IllegalArgumentException naming both shapes when they differ, or a probability outside [0, 1]
   */
  @Override
  public Tensor apply(Tensor probabilities, Tensor target) {
    return switch (reduction()) {
      case MEAN -> Ops.binaryCrossEntropy(probabilities, target, true);
      case SUM -> Ops.binaryCrossEntropy(probabilities, target, false);
      case NONE -> Ops.binaryCrossEntropyPerElement(probabilities, target);
    };
  }
}
