package dev.kiln.processor.ir;

import dev.kiln.dsl.LayerSpec;
import dev.kiln.dsl.ShapeException;
import dev.kiln.runtime.Shapes;
import java.util.List;

/**
 * {@code Tensor.cat(List.of(a, b, ...), dim)} in a compiled forward: the values side by side along
 * {@code dim} (not the batch), every other dimension equal, as PyTorch's {@code torch.cat}.
 */
public record Cat(int dim) implements LayerSpec {
  /** Not used: a cat's shape comes from all its inputs ({@link #outputShape(List)}). */
  @Override
  public int[] outputShape(int[] inputShape) {
    return outputShape(List.of(inputShape));
  }

  /**
   * The shape of the values joined along {@code dim}.
   *
   * @throws ShapeException when the ranks or another dimension differ, or {@code dim} is the batch
   *     or out of range, naming the shapes
   */
  public int[] outputShape(List<int[]> shapes) {
    int[] first = shapes.get(0);
    int d = dim < 0 ? dim + first.length : dim;
    if (d < 0 || d >= first.length) {
      throw new ShapeException("cat along dimension " + dim + " of " + Shapes.toString(first) + ", which has " + first.length
          + " dimensions");
    }
    if (d == 0) {
      throw new ShapeException("a compiled cat joins values along a dimension after the batch, not dimension 0");
    }
    int[] out = first.clone();
    long joined = 0;
    for (int[] s : shapes) {
      boolean fits = s.length == first.length;
      for (int i = 0; fits && i < s.length; i++) {
        fits = i == d || s[i] == first[i];
      }
      if (!fits) {
        StringBuilder all = new StringBuilder();
        shapes.forEach(x -> all.append(all.length() == 0 ? "" : ", ").append(Shapes.toString(x)));
        throw new ShapeException("cat along dimension " + dim + " needs the same size in every other dimension, receives "
            + all);
      }
      joined += s[d];
    }
    if (joined > Integer.MAX_VALUE) {
      throw new ShapeException("cat along dimension " + dim + " gives a size of " + joined + ", more than 2^31-1");
    }
    out[d] = (int) joined;
    return out;
  }

  /** The dimension, counted from the front for a rank. */
  public int dimension(int rank) {
    return dim < 0 ? dim + rank : dim;
  }

  @Override
  public String toString() {
    return "cat(dim=" + dim + ")";
  }
}
