package dev.kiln.processor.ir;

import dev.kiln.dsl.LayerSpec;
import dev.kiln.dsl.ShapeException;
import dev.kiln.runtime.Shapes;

/**
 * {@code F.groupNorm(x, groups[, weight, bias, eps])} in a compiled forward: x {@code [N, C, *]} normalised per sample over
 * each group of {@code C / groups} channels, then scaled by the weight and shifted by the bias per channel, as eager mode's
 * {@code Ops.groupNorm} (the kernels of a {@code GroupNorm} layer's step). The weight and bias, when given, are tensor fields
 * of the model, the step's inputs after x in that order, read where they live.
 *
 * @param groups the number of groups, positive
 * @param eps added to each group's variance, positive
 * @param weight whether a weight is given (else null: no scale)
 * @param bias whether a bias is given (else null: no shift)
 * @param channels the size of the weight (the bias, without one): the channels x must have; -1 without either
 */
public record GroupNormOf(int groups, double eps, boolean weight, boolean bias, int channels) implements LayerSpec {
  public GroupNormOf {
    if (groups <= 0) {
      throw new IllegalArgumentException("group_norm: num_groups must be positive, got " + groups);
    }
    if (!(eps > 0) || Double.isInfinite(eps)) {
      throw new IllegalArgumentException("group_norm: eps must be a positive number, got " + eps);
    }
  }

  /** Eager mode's checks of x, with its messages: the shape itself. */
  @Override
  public int[] outputShape(int[] in) {
    if (in.length < 2) {
      throw new ShapeException("group_norm: input must be [N, C, *] (rank 2 or more), got shape " + Shapes.toString(in));
    }
    if (in[1] % groups != 0) {
      throw new ShapeException("group_norm: expected the number of channels in the input to be divisible by num_groups, but got"
          + " input of shape " + Shapes.toString(in) + " and num_groups=" + groups);
    }
    if (channels >= 0 && in[1] != channels) {
      throw new ShapeException("group_norm: input " + Shapes.toString(in) + " has " + in[1] + " channels, but " + (weight ? "weight"
          : "bias") + " has shape [" + channels + "] (expected [" + in[1] + "])");
    }
    return in.clone();
  }

  @Override
  public String toString() {
    return "group_norm(num_groups=" + groups + ", eps=" + eps + ")";
  }
}
