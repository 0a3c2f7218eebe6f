package dev.kiln.processor.ir;

import dev.kiln.dsl.ShapeException;
import dev.kiln.runtime.Shapes;

/** The one dimension after the batch that a compiled step works along, checked with the step named in its messages. */
final class AfterBatch {
  private AfterBatch() {}

  /**
   * {@code dim} of a value of shape {@code in} (the batch first), counted from the front.
   *
   * @param step the step, as its messages name it: {@code normalize(p=2.0, dim=0, eps=1.0E-12)}
   * @param instead what to write instead of the batch: {@code normalize along a dimension after it}
   * @throws ShapeException {@code <step> of <shape>: dimension <dim> is out of range for ...} or {@code ... is the batch,
   *     which a compiled forward keeps; <instead>}
   */
  static int dimension(Object step, int[] in, int dim, String instead) {
    int rank = in.length;
    if (dim < -rank || dim >= rank) {
      throw new ShapeException(step + " of " + Shapes.toString(in) + ": dimension " + dim + " is out of range for " + rank
          + " dimensions (" + -rank + ".." + (rank - 1) + ")");
    }
    int d = dim < 0 ? dim + rank : dim;
    if (d == 0) {
      throw new ShapeException(step + " of " + Shapes.toString(in) + ": dimension " + dim + " is the batch, which a compiled forward"
          + " keeps; " + instead);
    }
    return d;
  }

  /** {@code in} without dimension {@code d}, or with it of size 1 when {@code keepDim}: a reduction's shape. */
  static int[] reduced(int[] in, int d, boolean keepDim) {
    boolean[] reduced = new boolean[in.length];
    reduced[d] = true;
    return Shapes.reducedShape(in, reduced, keepDim);
  }

  /** A value of shape {@code in} seen as {@code [outer, size, inner]} around dimension {@code d}, per sample (outer times the batch). */
  static int[] along(int[] in, int d) {
    int[] sample = in.clone();
    sample[0] = 1;
    return Shapes.along(sample, d);
  }
}
