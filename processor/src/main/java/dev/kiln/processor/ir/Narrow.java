package dev.kiln.processor.ir;

import dev.kiln.dsl.LayerSpec;
import dev.kiln.dsl.ShapeException;
import dev.kiln.runtime.Shapes;

/**
 * {@code x.narrow(dim, start, length)} or {@code x.select(dim, index)} ({@code F.narrow}, {@code F.select})
 * in a compiled forward: {@code length} entries along one dimension after the batch, from {@code start}
 * (negative counting from the end, as PyTorch's), kept; or, for a select, the one entry at {@code start},
 * its dimension removed. A sequence model's last step, PyTorch's {@code out[:, -1, :]}: {@code
 * out.select(1, -1)}, {@code [N, S, H] -> [N, H]}. A copy each way, as eager mode's.
 *
 * @param select a select (one entry, the dimension removed), else a narrow
 */
public record Narrow(int dim, int start, int length, boolean select) implements LayerSpec {
  /** {@code x.select(dim, index)}. */
  public static Narrow select(int dim, int index) {
    return new Narrow(dim, index, 1, true);
  }

  @Override
  public int[] outputShape(int[] in) {
    int d = dimension(in);
    int size = in[d];
    if (select && (start < -size || start >= size)) {
      throw new ShapeException(this + ": index " + start + " is out of range for dimension " + dim + " of " + Shapes.toString(in)
          + " (" + -size + ".." + (size - 1) + ")");
    }
    if (!select && (start < -size || start > size)) {
      throw new ShapeException(this + ": start " + start + " is out of range for dimension " + dim + " of " + Shapes.toString(in)
          + " (" + -size + ".." + size + ")");
    }
    if (!select && (length < 0 || length > size - from(size))) {
      throw new ShapeException(this + ": start (" + from(size) + ") + length (" + length + ") exceeds the size (" + size
          + ") of dimension " + dim + " of " + Shapes.toString(in));
    }
    int[] out = new int[select ? in.length - 1 : in.length];
    for (int i = 0, j = 0; i < in.length; i++) {
      if (i != d) {
        out[j++] = in[i];
      } else if (!select) {
        out[j++] = length;
      }
    }
    return out;
  }

  /**
   * The dimension, counted from the front of {@code in} (the batch included).
   *
   * @throws ShapeException when it is out of range or the batch
   */
  public int dimension(int[] in) {
    int rank = in.length;
    if (dim < -rank || dim >= rank) {
      throw new ShapeException(this + " cannot take " + Shapes.toString(in) + ": dimension " + dim + " is out of range for " + rank
          + " dimensions (" + -rank + ".." + (rank - 1) + ")");
    }
    int d = dim < 0 ? dim + rank : dim;
    if (d == 0) {
      throw new ShapeException(this + " cannot take " + Shapes.toString(in) + ": dimension " + dim + " is the batch, which a compiled"
          + " forward keeps; " + (select ? "select" : "narrow") + " a dimension after it");
    }
    return d;
  }

  /** The first entry taken along a dimension of {@code size}: {@code start}, counted from the front. */
  public int from(int size) {
    return start < 0 ? start + size : start;
  }

  /**
   * The copy per sample as {@code SliceKernels} takes it: {@code rows} slabs (the entries of the dimensions
   * between the batch and {@code dim}) of {@code pitch} values, of which {@code width} from {@code skip}.
   */
  public int[] slabs(int[] in) {
    int d = dimension(in);
    int rows = 1, inner = 1;
    for (int i = 1; i < d; i++) {
      rows *= in[i];
    }
    for (int i = d + 1; i < in.length; i++) {
      inner *= in[i];
    }
    return new int[] {rows, in[d] * inner, from(in[d]) * inner, length * inner};
  }

  @Override
  public String toString() {
    return select ? "select(" + dim + ", " + start + ")" : "narrow(" + dim + ", " + start + ", " + length + ")";
  }
}
