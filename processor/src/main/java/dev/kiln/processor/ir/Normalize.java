package dev.kiln.processor.ir;

import dev.kiln.dsl.LayerSpec;
import dev.kiln.dsl.ShapeException;

/**
 * {@code F.normalize(x[, p, dim, eps])} in a compiled forward: {@code x / max(||x||_p, eps)} along one dimension
 * after the batch, as eager mode computes it, in its three nodes' kernels: the p-norm along the dimension
 * ({@code IndexKernels.normForward}, kept), clamped below at eps ({@code MathKernels.clampForward}, kept), and the
 * quotient, the clamped norm repeated along the dimension ({@code ArithmeticKernels.divRepeatedForward}). Backward
 * the same three nodes' backward kernels in eager mode's order: the numerator's gradient, the denominator's summed
 * along the dimension, through the clamp and the norm, added to the first. Values and gradients are eager mode's
 * bit for bit.
 *
 * @param p the norm's exponent, a finite number above 0
 * @param dim the dimension, negative counting from the end
 * @param eps the clamp's floor, a finite number of 0 or more
 */
public record Normalize(float p, int dim, float eps) implements LayerSpec {
  public Normalize {
    if (!(p > 0) || Float.isInfinite(p)) {
      throw new IllegalArgumentException("normalize: p must be a finite number above 0, got " + p);
    }
    if (!(eps >= 0) || Float.isInfinite(eps)) {
      throw new IllegalArgumentException("normalize: eps must be a finite number of 0 or more, got " + eps);
    }
  }

  @Override
  public int[] outputShape(int[] in) {
    dimension(in);
    return in.clone();
  }

  /**
   * The dimension, counted from the front of {@code in} (the batch included).
   *
   * @throws ShapeException when it is out of range or the batch
   */
  public int dimension(int[] in) {
    return AfterBatch.dimension(this, in, dim, "normalize along a dimension after it");
  }

  /**
   * {@code x} of {@code in} seen as {@code [outer, size, inner]} around the dimension, per sample: the outer count
   * (times the batch), the dimension's size and the values after it.
   */
  public int[] along(int[] in) {
    return AfterBatch.along(in, dimension(in));
  }

  @Override
  public String toString() {
    return "normalize(p=" + p + ", dim=" + dim + ", eps=" + eps + ")";
  }
}
