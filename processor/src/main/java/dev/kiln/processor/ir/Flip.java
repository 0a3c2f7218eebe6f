package dev.kiln.processor.ir;

import dev.kiln.dsl.LayerSpec;
import dev.kiln.dsl.ShapeException;
import dev.kiln.runtime.Shapes;
import java.util.List;
import java.util.stream.Collectors;

/**
 * {@code x.flip(dims...)} in a compiled forward: the entries reversed along each of the dimensions after the batch,
 * one copy each way through eager mode's coordinate map ({@code IndexKernels.indexMap}, reading {@code size - 1 - c}
 * along a flipped dimension), as eager mode's flip; values and gradients are its own bit for bit.
 *
 * @param dims the dimensions as written, negative counting from the end
 */
public record Flip(List<Integer> dims) implements LayerSpec, IndexMap {
  public Flip {
    dims = List.copyOf(dims);
  }

  @Override
  public int[] outputShape(int[] in) {
    flips(in);
    return in.clone();
  }

  /**
   * @throws ShapeException for a dimension out of range, the batch, or one given twice
   */
  @Override
  public boolean[] flips(int[] in) {
    int rank = in.length;
    boolean[] flip = new boolean[rank];
    for (int dim : dims) {
      int d = AfterBatch.dimension(this, in, dim, "flip dimensions after it");
      if (flip[d]) {
        throw new ShapeException(this + " of " + Shapes.toString(in) + ": dimension " + d + " appears multiple times in the list"
            + " of dims");
      }
      flip[d] = true;
    }
    return flip;
  }

  /** {@code size - 1} along each flipped dimension (its last entry is the first read), 0 along the others. */
  @Override
  public long[] offsets(int[] in) {
    boolean[] flip = flips(in);
    long[] offset = new long[in.length];
    for (int d = 0; d < in.length; d++) {
      offset[d] = flip[d] ? in[d] - 1 : 0;
    }
    return offset;
  }

  @Override
  public float fill() {
    return 0f;
  }

  /** The dimensions as the eager call takes them: {@code 1, 2}. */
  public String arguments() {
    return dims.stream().map(String::valueOf).collect(Collectors.joining(", "));
  }

  @Override
  public String toString() {
    return "flip(" + arguments() + ")";
  }
}
