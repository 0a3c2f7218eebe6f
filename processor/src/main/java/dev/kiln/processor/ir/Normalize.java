package dev.kiln.processor.ir;

import dev.kiln.dsl.LayerSpec;
import dev.kiln.dsl.ShapeException;
import dev.kiln.runtime.Shapes;

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
    int rank = in.length;
    if (dim < -rank || dim >= rank) {
      throw new ShapeException(this + " of " + Shapes.toString(in) + ": dimension " + dim + " is out of range for " + rank
          + " dimensions (" + -rank + ".." + (rank - 1) + ")");
    }
    int d = dim < 0 ? dim + rank : dim;
    if (d == 0) {
      throw new ShapeException(this + " of " + Shapes.toString(in) + ": dimension " + dim + " is the batch, which a compiled forward"
          + " keeps; normalize along a dimension after it");
    }
    return d;
  }

  /**
   * {@code x} of {@code in} seen as {@code [outer, size, inner]} around the dimension, per sample: the outer count
   * (times the batch), the dimension's size and the values after it.
   */
  public int[] along(int[] in) {
    int d = dimension(in), outer = 1, inner = 1;
    for (int i = 1; i < d; i++) {
      outer *= in[i];
    }
    for (int i = d + 1; i < in.length; i++) {
      inner *= in[i];
    }
    return new int[] {outer, in[d], inner};
  }

  @Override
  public String toString() {
    return "normalize(p=" + p + ", dim=" + dim + ", eps=" + eps + ")";
  }
}
