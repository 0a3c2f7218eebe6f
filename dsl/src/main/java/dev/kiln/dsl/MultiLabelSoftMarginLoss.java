package dev.kiln.dsl;

import dev.kiln.runtime.Ops;
import dev.kiln.runtime.Tensor;

/**
 * The multi-label one-versus-all loss, as PyTorch's {@code nn.MultiLabelSoftMarginLoss(weight=None,
 * reduction='mean')}: for logits {@code x [N, C]} (or {@code [C]}) and 0/1 targets of the same shape, {@code -(y
 * logsigmoid(x) + (1 - y) logsigmoid(-x))}, times {@code weight [C]} if given, averaged over the classes: one loss per
 * sample, reduced as {@link Reduction} says.
 */
public class MultiLabelSoftMarginLoss extends Loss {
  private final Tensor weight;

  public MultiLabelSoftMarginLoss() {
    this(null, Reduction.MEAN);
  }

  public MultiLabelSoftMarginLoss(Reduction reduction) {
    this(null, reduction);
  }

  /** {@code weight}: one factor per class, or null for none. */
  public MultiLabelSoftMarginLoss(Tensor weight, Reduction reduction) {
    super(reduction);
    this.weight = weight;
  }

  public Tensor weight() {
    return weight;
  }

  @Override
  public Tensor apply(Tensor prediction, Tensor target) {
    return F.multilabelSoftMarginLoss(prediction, target, weight, reduction());
  }

  /** {@code F.multilabel_soft_margin_loss}'s per-sample losses. */
  static Tensor perSample(Tensor input, Tensor target, Tensor weight) {
    sameShape("multilabel_soft_margin_loss", "input", input, "target", target);
    if (weight != null) {
      weight = weight.to(input.device()); // a class weight made on the host, for inputs on the GPU
    }
    Tensor loss = target.mul(Ops.logSigmoid(input)).add(target.neg().add(1f).mul(Ops.logSigmoid(input.neg()))).neg();
    if (weight != null) {
      loss = loss.mul(weight);
    }
    int classDim = input.shape().length - 1;
    return loss.sum(classDim).div((float) input.shape()[classDim]);
  }
}
