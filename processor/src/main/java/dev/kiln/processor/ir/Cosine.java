package dev.kiln.processor.ir;

import dev.kiln.dsl.LayerSpec;
import dev.kiln.dsl.ShapeException;
import dev.kiln.runtime.Shapes;
import java.util.List;

/**
 * {@code F.cosineSimilarity(a, b[, dim, eps])} of two values of one shape in a compiled forward: PyTorch 1.13's
 * {@code sum((a / max(|a|, eps)) * (b / max(|b|, eps)), dim)} along one dimension after the batch, which is removed,
 * as eager mode computes it: for each operand the 2-norm along the dimension ({@code IndexKernels.normForward}) raised
 * to eps in place ({@code MathKernels.clampForward}, so the norm's backward reads the raised norm, as PyTorch's), the
 * quotient by it repeated along the dimension; the product of the quotients and its sum along the dimension. Backward
 * the same nodes' kernels: the sum spread, the product's two gradients, each quotient's numerator and denominator, the
 * norm's from the raised norm, added. Values and gradients are eager mode's bit for bit.
 *
 * @param dim the dimension, negative counting from the end
 * @param eps the norms' floor, a finite number of 0 or more
 */
public record Cosine(int dim, float eps) implements LayerSpec {
  public Cosine {
    if (!(eps >= 0) || Float.isInfinite(eps)) {
      throw new IllegalArgumentException("cosine_similarity: eps must be a finite number of 0 or more, got " + eps);
    }
  }

  /** The shape of the similarity of one operand of shape {@code in}: the dimension removed. */
  @Override
  public int[] outputShape(int[] in) {
    return AfterBatch.reduced(in, dimension(in), false);
  }

  /**
   * The shape of the similarity of its two operands.
   *
   * @throws ShapeException when their shapes differ (a compiled similarity does not broadcast), or the dimension is
   *     out of range or the batch
   */
  public int[] outputShape(List<int[]> operands) {
    int[] a = operands.get(0), b = operands.get(1);
    if (!java.util.Arrays.equals(a, b)) {
      throw new ShapeException(this + " of " + Shapes.toString(a) + " and " + Shapes.toString(b) + ": a compiled cosine similarity"
          + " takes two values of one shape (it does not broadcast one over the other)");
    }
    return outputShape(a);
  }

  /**
   * The dimension, counted from the front of {@code in} (the batch included).
   *
   * @throws ShapeException when it is out of range or the batch
   */
  public int dimension(int[] in) {
    return AfterBatch.dimension(this, in, dim, "compare along a dimension after it");
  }

  /** An operand of shape {@code in} seen as {@code [outer, size, inner]} around the dimension, per sample (outer times the batch). */
  public int[] along(int[] in) {
    return AfterBatch.along(in, dimension(in));
  }

  @Override
  public String toString() {
    return "cosineSimilarity(dim=" + dim + ", eps=" + eps + ")";
  }
}
