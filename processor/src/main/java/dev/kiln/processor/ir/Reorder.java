package dev.kiln.processor.ir;

import dev.kiln.dsl.LayerSpec;
import dev.kiln.dsl.ShapeException;
import dev.kiln.runtime.Shapes;

/**
 * A {@link Transpose} or {@link Permute} in a compiled forward: each sample's values with their
 * dimensions reordered (a copy, unless a following matmul takes a swap of the last two as a
 * transposed operand). The batch stays dimension 0.
 */
public sealed interface Reorder extends LayerSpec permits Transpose, Permute {
  /**
   * The order of dimensions of the result for a value of {@code rank} dimensions (the batch
   * included): dimension {@code i} of the result is the input's {@code order[i]}, and
   * {@code order[0] == 0}.
   *
   * @throws ShapeException naming the dimension that is out of range, repeated, missing or the batch
   */
  int[] order(int rank);

  @Override
  default int[] outputShape(int[] in) {
    int[] order;
    try {
      order = order(in.length);
    } catch (ShapeException e) {
      throw new ShapeException(this + " cannot take " + Shapes.toString(in) + ": " + e.getMessage());
    }
    int[] out = new int[in.length];
    for (int i = 0; i < in.length; i++) {
      out[i] = in[order[i]];
    }
    return out;
  }

  /** Whether the order swaps the last two dimensions and keeps the others: a GEMM's transposed operand. */
  default boolean swapsLastTwo(int rank) {
    int[] order = order(rank);
    for (int i = 0; i < rank - 2; i++) {
      if (order[i] != i) {
        return false;
      }
    }
    return rank >= 3 && order[rank - 2] == rank - 1 && order[rank - 1] == rank - 2;
  }

  /** A dimension counted from the front ({@code -1} is the last), checked against the rank. */
  static int dimension(int dim, int rank) {
    if (dim < -rank || dim >= rank) {
      throw new ShapeException("dimension " + dim + " is out of range for " + rank + " dimensions (" + -rank + ".." + (rank - 1)
          + ")");
    }
    return dim < 0 ? dim + rank : dim;
  }
}
