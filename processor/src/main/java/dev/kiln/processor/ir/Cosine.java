package dev.kiln.processor.ir;

import dev.kiln.dsl.LayerSpec;
import dev.kiln.dsl.ShapeException;
import dev.kiln.runtime.Shapes;
import java.util.List;

/**
 * {@code F.cosineSimilarity(a, b[, dim, eps])} of two values in a compiled forward: PyTorch 1.13's
 * {@code sum((a / max(|a|, eps)) * (b / max(|b|, eps)), dim)} along one dimension after the batch, which is removed,
 * as eager mode computes it: the operands broadcast together (both of the batch's rank; a size 1 of one stretches over
 * the other's, as {@code [N, 1, D]} against keys {@code [N, K, D]}) by eager mode's expand ({@link #expansion}: its
 * passes, {@code spreadAlong} each, summed back by {@code sumAlong} backward); for each operand the 2-norm along the dimension ({@code IndexKernels.normForward}) raised
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
   * @throws ShapeException when they do not broadcast together (of one rank, each size equal or 1), or the dimension is
   *     out of range or the batch
   */
  public int[] outputShape(List<int[]> operands) {
    return outputShape(broadcast(operands.get(0), operands.get(1)));
  }

  /**
   * The shape both operands take, each size of 1 stretched to the other's, as PyTorch broadcasts them.
   *
   * @throws ShapeException when the ranks differ (both start with the batch) or two sizes differ and neither is 1
   */
  public int[] broadcast(int[] a, int[] b) {
    String of = this + " of " + Shapes.toString(a) + " and " + Shapes.toString(b) + ": ";
    if (a.length != b.length) {
      throw new ShapeException(of + "their ranks differ, and both start with the batch dimension, so their dimensions do not"
          + " line up");
    }
    int[] shape = a.clone();
    for (int d = 1; d < a.length; d++) {
      if (a[d] != b[d] && a[d] != 1 && b[d] != 1) {
        throw new ShapeException(of + "sizes " + a[d] + " and " + b[d] + " at dimension " + d + " differ and neither is 1");
      }
      shape[d] = a[d] == 1 ? b[d] : a[d];
    }
    return shape;
  }

  /**
   * The passes of eager mode's expand of an operand of shape {@code own} to the broadcast {@code shape}, per sample
   * ({@link Shapes#expandRuns}, outer times the batch); none where it has that shape.
   */
  public static int[][] expansion(int[] own, int[] shape) {
    int[] from = own.clone(), to = shape.clone();
    from[0] = 1;
    to[0] = 1;
    return Shapes.expandRuns(from, to);
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
