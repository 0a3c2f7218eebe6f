package dev.kiln.dsl;

import dev.kiln.runtime.Tensor;

/**
 * The two-class logistic loss, as PyTorch's {@code nn.SoftMarginLoss(reduction='mean')}: {@code log(1 + exp(-y x))} for
 * a prediction {@code x} and a target {@code y} of 1 or -1, of one shape.
 */
public class SoftMarginLoss extends Loss {
  public SoftMarginLoss() {
    this(Reduction.MEAN);
  }

  public SoftMarginLoss(Reduction reduction) {
    super(reduction);
  }

  @Override
  public Tensor apply(Tensor prediction, Tensor target) {
    return F.softMarginLoss(prediction, target, reduction());
  }

  /** {@code F.soft_margin_loss}'s per-element losses. */
  static Tensor perElement(Tensor input, Tensor target) {
    sameShape("soft_margin_loss", "input", input, "target", target);
    return input.neg().mul(target).exp().log1p();
  }
}
