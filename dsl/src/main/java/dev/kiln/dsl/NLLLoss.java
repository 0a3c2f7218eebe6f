package dev.kiln.dsl;

import dev.kiln.runtime.Ops;
import dev.kiln.runtime.Tensor;

/**
 * Negative log-likelihood of log-probabilities {@code [N, C]} (a {@link LogSoftmax}'s output)
 * against class indices {@code [N]} ({@code Tensor.labels(...)}), as PyTorch's {@code nn.NLLLoss}:
 * {@code -input[i, target[i]]} per sample; {@link Reduction#MEAN} (the default) averages over the
 * batch. One sample's {@code [C]} takes a 0-d class index. {@code NLLLoss} after
 * {@code LogSoftmax(1)} is {@link CrossEntropyLoss} on the logits, which does both in one step.
 * A class index equal to {@link #ignoreIndex(int)} (-100 by default, as PyTorch's) is left out.
 * PyTorch's {@code weight} is not offered, nor inputs of more than two dimensions.
 */
public class NLLLoss extends Loss {
  private int ignoreIndex = -100;

  public NLLLoss() {
    this(Reduction.MEAN);
  }

  public NLLLoss(Reduction reduction) {
    super(reduction);
  }

  /**
   * The loss of {@code logProbabilities} against {@code target}, reduced as {@link #reduction()} says.
   *
   * @throws IllegalArgumentException naming the shapes for a target that does not fit, or the sample
   *     whose class index is out of range
   */
  /** Class indices equal to {@code index} contribute no loss and no gradient (PyTorch's {@code ignore_index}, -100 by default). */
  public NLLLoss ignoreIndex(int index) {
    this.ignoreIndex = index;
    return this;
  }

  public int ignoreIndex() {
    return ignoreIndex;
  }

  @Override
  public Tensor apply(Tensor logProbabilities, Tensor target) {
    if (logProbabilities.dim() == 1 && target.dim() == 0) { // one sample, as PyTorch takes it
      Tensor loss = apply(logProbabilities.unsqueeze(0), target.unsqueeze(0));
      return reduction() == Reduction.NONE ? loss.squeeze(0) : loss;
    }
    Tensor ignored = ignoring(target, ignoreIndex, reduction(), t -> Ops.nllLossPerSample(logProbabilities, t));
    if (ignored != null) {
      return ignored;
    }
    return switch (reduction()) {
      case MEAN -> Ops.nllLoss(logProbabilities, target, true);
      case SUM -> Ops.nllLoss(logProbabilities, target, false);
      case NONE -> Ops.nllLossPerSample(logProbabilities, target);
    };
  }
}
