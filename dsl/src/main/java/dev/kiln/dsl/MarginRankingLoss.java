package dev.kiln.dsl;

import dev.kiln.runtime.Tensor;

/**
 * The margin ranking loss, as PyTorch's {@code nn.MarginRankingLoss(margin=0.0, reduction='mean')}: {@code max(0, -y
 * (x1 - x2) + margin)} for inputs {@code x1, x2} and a target {@code y} of 1 (x1 should rank higher) or -1, all of one
 * shape; {@link #apply(Tensor, Tensor, Tensor)}.
 */
public class MarginRankingLoss extends Loss {
  private final double margin;

  public MarginRankingLoss() {
    this(0.0, Reduction.MEAN);
  }

  public MarginRankingLoss(double margin) {
    this(margin, Reduction.MEAN);
  }

  public MarginRankingLoss(double margin, Reduction reduction) {
    super(reduction);
    if (!Float.isFinite((float) margin)) {
      throw new IllegalArgumentException("MarginRankingLoss: margin must be a finite float, got " + margin);
    }
    this.margin = margin;
  }

  public double margin() {
    return margin;
  }

  /** The loss of {@code input1} ranked against {@code input2} as {@code target} (1 or -1) says. */
  public Tensor apply(Tensor input1, Tensor input2, Tensor target) {
    return F.marginRankingLoss(input1, input2, target, margin, reduction());
  }

  /** @throws IllegalArgumentException always: the loss takes three tensors */
  @Override
  public Tensor apply(Tensor prediction, Tensor target) {
    throw threeInputs(this, "input1, input2, target");
  }

  /** {@code F.margin_ranking_loss}'s per-element losses. */
  static Tensor perElement(Tensor input1, Tensor input2, Tensor target, double margin) {
    sameShape("margin_ranking_loss", "input1", input1, "input2", input2);
    sameShape("margin_ranking_loss", "input1", input1, "target", target);
    return target.neg().mul(input1.sub(input2)).add((float) margin).clampMin(0f);
  }
}
