package dev.kiln.dsl;

import dev.kiln.runtime.DType;
import dev.kiln.runtime.Ops;
import dev.kiln.runtime.Tensor;
import java.util.Arrays;
import java.util.Locale;

/**
 * Cross-entropy of logits {@code prediction [N, C]} against a target, as PyTorch's {@code
 * nn.CrossEntropyLoss}: class indices {@code [N]} ({@code Tensor.labels(...)}), log-softmax and
 * negative log-likelihood in one kernel; or class probabilities {@code [N, C]} (a float tensor of
 * the prediction's shape, "soft labels"), {@code -sum_c target * log_softmax(prediction)} per
 * sample. {@link #labelSmoothing(double)} mixes the target with the uniform distribution over the
 * classes, as PyTorch's {@code label_smoothing}: {@code (1 - e) * target + e / C}. A class index
 * equal to {@link #ignoreIndex(int)} (-100 by default, as PyTorch's) is left out.
 */
public class CrossEntropyLoss extends Loss {
  private double labelSmoothing;
  private int ignoreIndex = -100;

  public CrossEntropyLoss() {
    this(Reduction.MEAN);
  }

  public CrossEntropyLoss(Reduction reduction) {
    super(reduction);
  }

  /**
   * Smooths the targets by {@code epsilon} in [0, 1] (PyTorch's {@code label_smoothing}, 0 by
   * default): each sample's target becomes {@code (1 - epsilon)} on its class (or its
   * probabilities) plus {@code epsilon / C} on every class.
   */
  public CrossEntropyLoss labelSmoothing(double epsilon) {
    if (!(epsilon >= 0 && epsilon <= 1)) {
      throw new IllegalArgumentException("CrossEntropyLoss: label smoothing must be in [0, 1], got " + epsilon);
    }
    this.labelSmoothing = epsilon;
    return this;
  }

  public double labelSmoothing() {
    return labelSmoothing;
  }

  /**
   * Class indices equal to {@code index} contribute no loss and no gradient, and the mean runs
   * over the others (PyTorch's {@code ignore_index}, -100 by default: padding positions of a
   * sequence batch).
   */
  public CrossEntropyLoss ignoreIndex(int index) {
    this.ignoreIndex = index;
    return this;
  }

  public int ignoreIndex() {
    return ignoreIndex;
  }

  @Override
  public Tensor apply(Tensor prediction, Tensor target) {
    if (prediction.dim() == 1 && (target.dim() == 0 || target.dim() == 1 && target.dtype() == DType.FLOAT32)) {
      // one sample, as PyTorch 1.13 takes it: logits [C] with a class index [] or probabilities [C]
      Tensor loss = apply(prediction.unsqueeze(0), target.unsqueeze(0));
      return reduction() == Reduction.NONE ? loss.squeeze(0) : loss;
    }
    if (target.dtype() == DType.FLOAT32 && ignoreIndex != -100) {
      throw new IllegalArgumentException("cross_entropy: ignore_index (" + ignoreIndex + ") is not supported for class-probability"
          + " targets, as in PyTorch; give class indices (Tensor.labels) or leave the default -100");
    }
    if (target.dtype() == DType.FLOAT32 && prediction.dtype() == DType.FLOAT32 && target.dim() == 2) {
      return reduce(softTargets(prediction, target));
    }
    Tensor ignored = ignoring(target, ignoreIndex, reduction(),
        t -> labelSmoothing > 0 ? smoothedIndices(prediction, t) : Ops.crossEntropyPerSample(prediction, t));
    if (ignored != null) {
      return ignored;
    }
    if (labelSmoothing > 0) {
      return reduce(smoothedIndices(prediction, target));
    }
    return switch (reduction()) {
      case MEAN -> Ops.crossEntropy(prediction, target, true);
      case SUM -> Ops.crossEntropy(prediction, target, false);
      case NONE -> Ops.crossEntropyPerSample(prediction, target);
    };
  }

  /** Per sample {@code -sum_c t_c log p_c} for class probabilities {@code t}, smoothed. */
  private Tensor softTargets(Tensor prediction, Tensor target) {
    if (prediction.dim() != 2 || !Arrays.equals(prediction.shape(), target.shape())) {
      throw new IllegalArgumentException("cross_entropy: class-probability targets must have the input's shape [N, C], got "
          + "input " + Arrays.toString(prediction.shape()) + " and target " + Arrays.toString(target.shape()));
    }
    Tensor t = target;
    if (labelSmoothing > 0) {
      t = target.mul((float) (1 - labelSmoothing)).add((float) (labelSmoothing / prediction.size(1)));
    }
    return Ops.logSoftmax(prediction, 1).mul(t).sum(1).neg();
  }

  /** Per sample {@code (1 - e) * nll + e * mean_c(-log p_c)} for class indices: PyTorch's smoothing. */
  private Tensor smoothedIndices(Tensor prediction, Tensor target) {
    Tensor nll = Ops.crossEntropyPerSample(prediction, target); // checks the shapes and the indices
    Tensor uniform = Ops.logSoftmax(prediction, 1).mean(1).neg();
    return nll.mul((float) (1 - labelSmoothing)).add(uniform.mul((float) labelSmoothing));
  }

  private Tensor reduce(Tensor perSample) {
    return switch (reduction()) {
      case MEAN -> perSample.mean();
      case SUM -> perSample.sum();
      case NONE -> perSample;
    };
  }

  @Override
  public String toString() {
    return labelSmoothing == 0 ? "CrossEntropyLoss()"
        : String.format(Locale.ROOT, "CrossEntropyLoss(label_smoothing=%s)", labelSmoothing);
    // PyTorch's repr shows neither ignore_index nor reduction
  }
}
