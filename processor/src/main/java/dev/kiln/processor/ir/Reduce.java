package dev.kiln.processor.ir;

import dev.kiln.dsl.LayerSpec;
import dev.kiln.dsl.ShapeException;
import dev.kiln.runtime.Shapes;

/**
 * {@code x.sum(dim)}, {@code x.mean(dim, keepDim)} ({@code F.sum}, {@code F.mean}) in a compiled forward:
 * the sum or mean along one dimension after the batch (negative counting from the end, as PyTorch's),
 * removed, or kept with size 1 when {@code keepDim}. A transformer classifier's pooling over its tokens,
 * {@code x.mean(1)}: {@code [N, S, D] -> [N, D]}. Added in double and rounded once, as eager mode's.
 *
 * @param mean a mean (the sum times {@code 1f / size}), else a sum
 */
public record Reduce(boolean mean, int dim, boolean keepDim) implements LayerSpec {
  @Override
  public int[] outputShape(int[] in) {
    int d;
    try {
      d = dimension(in.length);
    } catch (ShapeException e) {
      throw new ShapeException(this + " cannot take " + Shapes.toString(in) + ": " + e.getMessage());
    }
    int[] out = new int[keepDim ? in.length : in.length - 1];
    for (int i = 0, j = 0; i < in.length; i++) {
      if (i != d) {
        out[j++] = in[i];
      } else if (keepDim) {
        out[j++] = 1;
      }
    }
    return out;
  }

  /**
   * The dimension, counted from the front for a value of {@code rank} dimensions (the batch included).
   *
   * @throws ShapeException when it is out of range or the batch
   */
  public int dimension(int rank) {
    if (dim < -rank || dim >= rank) {
      throw new ShapeException("dimension " + dim + " is out of range for " + rank + " dimensions (" + -rank + ".." + (rank - 1)
          + ")");
    }
    int d = dim < 0 ? dim + rank : dim;
    if (d == 0) {
      throw new ShapeException("dimension " + dim + " is the batch, which a compiled forward keeps; reduce a dimension after"
          + " it, or reduce the model's output outside forward");
    }
    return d;
  }

  /**
   * The input seen as {@code [outer, size, inner]} around the dimension, per sample: {@code outer} the
   * values of one sample before it (times the batch: {@code n * outer}), {@code size} its size.
   */
  public int[] along(int[] in) {
    int d = dimension(in.length);
    int outer = 1, inner = 1;
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
    return (mean ? "mean(" : "sum(") + dim + (keepDim ? ", true)" : ")");
  }
}
