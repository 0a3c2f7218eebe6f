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
   * The shape both operands take, each size of 1 stretched to the other's, as PyTorch broadcasts them: two values (the
   * batch first, -1), or a value and a tensor field of the model (no batch; {@link #isField}), the field's dimensions
   * lined up with the value's last ones and repeated over the batch.
   *
   * @throws ShapeException when two values' ranks differ (both start with the batch), a field has more dimensions
   *     than the value or one that lines up with the batch other than 1, both are fields, or two sizes differ and
   *     neither is 1
   */
  public int[] broadcast(int[] a, int[] b) {
    String of = this + " of " + Shapes.toString(a) + " and " + Shapes.toString(b) + ": ";
    if (isField(a) && isField(b)) {
      throw new ShapeException(of + "both are tensor fields of the model, without the batch; compare a value with them");
    }
    int[] value = isField(a) ? b : a, field = isField(a) ? a : b;
    if (isField(field) && (field.length > value.length || field.length == value.length && field[0] != 1)) {
      throw new ShapeException(of + "the tensor field's dimensions line up with the value's last ones, and "
          + (field.length > value.length ? "it has more" : "its first would stretch over the batch, which it is not 1 for"));
    }
    if (!isField(field) && a.length != b.length) {
      throw new ShapeException(of + "their ranks differ, and both start with the batch dimension, so their dimensions do not"
          + " line up");
    }
    int[] other = padded(field, value.length);
    int[] shape = value.clone();
    for (int d = 1; d < shape.length; d++) {
      if (value[d] != other[d] && value[d] != 1 && other[d] != 1) {
        throw new ShapeException(of + "sizes " + value[d] + " and " + other[d] + " at dimension " + d
            + (a.length == b.length ? "" : " of the broadcast shape") + " differ and neither is 1");
      }
      shape[d] = value[d] == 1 ? other[d] : value[d];
    }
    return shape;
  }

  /** Whether an operand's shape is a tensor field's: no batch (-1) first. */
  public static boolean isField(int[] shape) {
    return shape.length == 0 || shape[0] != -1;
  }

  /** {@code shape} with leading 1s up to {@code rank} dimensions, as PyTorch lines up the shorter of two shapes. */
  private static int[] padded(int[] shape, int rank) {
    int[] out = new int[rank];
    java.util.Arrays.fill(out, 1);
    System.arraycopy(shape, 0, out, rank - shape.length, shape.length);
    return out;
  }

  /**
   * The passes of eager mode's expand of an operand of shape {@code own} to the broadcast {@code shape} ({@link
   * Shapes#expandRuns}), per sample: {@code {outer, size, inner, start, end}}, the outer count times the batch; or, for
   * the first pass of a tensor field (start 0, the one stretching it over the batch), the size times the batch. None
   * where it has that shape.
   */
  public static int[][] expansion(int[] own, int[] shape) {
    int[] from = padded(own, shape.length), to = shape.clone();
    from[0] = 1;
    to[0] = isField(own) ? 2 : 1; // a field stretches over the batch: its first pass starts there, at any batch size but 1
    int[][] runs = Shapes.expandRuns(from, to);
    for (int[] run : runs) {
      run[run[3] == 0 ? 1 : 0] /= to[0];
    }
    return runs;
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
