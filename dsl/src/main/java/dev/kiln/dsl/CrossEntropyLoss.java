package dev.kiln.dsl;

import dev.kiln.runtime.Ops;
import dev.kiln.runtime.Tensor;

/**
 * Log-softmax and negative log-likelihood in one kernel: {@code prediction [N, C]} holds logits,
 * {@code target [N]} class indices ({@code Tensor.labels(...)}).
 */
public class CrossEntropyLoss extends Loss {
  public CrossEntropyLoss() {
    this(Reduction.MEAN);
  }

  public CrossEntropyLoss(Reduction reduction) {
    super(reduction);
  }

  @Override
  public Tensor apply(Tensor prediction, Tensor target) {
    return switch (reduction()) {
      case MEAN -> Ops.crossEntropy(prediction, target, true);
      case SUM -> Ops.crossEntropy(prediction, target, false);
      case NONE -> Ops.crossEntropyPerSample(prediction, target);
    };
  }
}
