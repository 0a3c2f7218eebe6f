package dev.kiln.processor.ir;

import dev.kiln.dsl.LayerSpec;
import dev.kiln.dsl.ShapeException;
import dev.kiln.runtime.Shapes;
import java.util.List;
import java.util.stream.Collectors;

/**
 * {@code x.repeat(1, r1, r2, ...)} in a compiled forward: the value tiled {@code r[d]} times along each dimension
 * after the batch, as eager mode builds it (PyTorch's own construction): a view of {@code [1, s0, 1, s1, ...]}
 * expanded to {@code [r0, s0, r1, s1, ...]}, in the expand's passes ({@link Shapes#expandRuns}), each {@code
 * MathKernels.spreadAlong} over {@code [outer, size, inner]}; backward {@code sumAlong} of each pass in reverse. Values
 * and gradients are eager mode's bit for bit. The batch is repeated once: one count per dimension, the first 1.
 *
 * @param repeats the counts as written, one per dimension of the value, the batch's first
 */
public record Tile(List<Integer> repeats) implements LayerSpec {
  public Tile {
    repeats = List.copyOf(repeats);
  }

  @Override
  public int[] outputShape(int[] in) {
    int rank = in.length;
    if (repeats.size() < rank) {
      throw new ShapeException(this + " of " + Shapes.toString(in) + ": number of dimensions of repeat dims (" + repeats.size()
          + ") can not be smaller than number of dimensions of tensor (" + rank + "); give one count per dimension, the batch's 1"
          + " first: repeat(1" + ", 1".repeat(rank - 1) + ")");
    }
    if (repeats.size() > rank) {
      throw new ShapeException(this + " of " + Shapes.toString(in) + ": " + repeats.size() + " counts for " + rank + " dimensions"
          + " add leading dimensions before the batch, which a compiled forward keeps first; give one count per dimension");
    }
    if (repeats.get(0) != 1) {
      throw new ShapeException(this + " of " + Shapes.toString(in) + ": count " + repeats.get(0) + " repeats the batch (dimension"
          + " 0), which a compiled forward keeps; repeat dimensions after it, the batch's count 1");
    }
    int[] out = in.clone();
    for (int d = 1; d < rank; d++) {
      int r = repeats.get(d);
      long size = (long) in[d] * r;
      if (r < 1 || size > Integer.MAX_VALUE) {
        throw new ShapeException(this + " of " + Shapes.toString(in) + ": count " + r + " at dimension " + d + (r < 0 ? " is negative"
            : r == 0 ? " leaves no entry, and a compiled forward's values are not empty" : " gives a size of " + size));
      }
      out[d] = (int) size;
    }
    return out;
  }

  /**
   * The expand's passes per sample, {@code {outer, size, inner, start, end}} ({@link Shapes#expandRuns}; the batch
   * counted 1, so {@code outer} times the batch), or one copy {@code {values, 1, 1}} where every count is 1, as eager
   * mode's expand copies then.
   */
  public int[][] passes(int[] in) {
    int rank = in.length;
    int[] spread = new int[2 * rank], to = new int[2 * rank];
    for (int d = 0; d < rank; d++) {
      int size = d == 0 ? 1 : in[d];
      spread[2 * d] = 1;
      spread[2 * d + 1] = size;
      to[2 * d] = repeats.get(d);
      to[2 * d + 1] = size;
    }
    int[][] runs = Shapes.expandRuns(spread, to);
    return runs.length > 0 ? runs : new int[][] {{Shapes.numel(to), 1, 1, 1, 1}}; // (not a pass over the batch itself)
  }

  /** The counts as written: {@code 1, 2, 3}. */
  public String arguments() {
    return repeats.stream().map(String::valueOf).collect(Collectors.joining(", "));
  }

  @Override
  public String toString() {
    return "repeat(" + arguments() + ")";
  }
}
