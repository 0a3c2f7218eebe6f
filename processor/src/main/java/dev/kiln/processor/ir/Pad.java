package dev.kiln.processor.ir;

import dev.kiln.dsl.LayerSpec;
import dev.kiln.dsl.ShapeException;
import dev.kiln.runtime.Shapes;
import java.util.List;
import java.util.stream.Collectors;

/**
 * {@code F.pad(x, new int[] {left, right, top, bottom, ...}[, value])} in a compiled forward: PyTorch's
 * constant padding, (before, after) pairs from the last dimension backwards, {@code value} in the
 * new entries; a negative count crops. One copy each way, eager mode's coordinate map ({@code
 * IndexKernels.indexMap}): the output reads the source at its coordinate minus {@code before}, the
 * gradient the output's at the source's plus {@code before}. The batch dimension is never padded.
 *
 * @param pads the pairs as written
 * @param value the constant of the padded entries
 */
public record Pad(List<Integer> pads, float value) implements LayerSpec, IndexMap {
  public Pad {
    pads = List.copyOf(pads);
  }

  @Override
  public int[] outputShape(int[] in) {
    int rank = in.length;
    if (pads.size() % 2 != 0) {
      throw new ShapeException(this + " of " + Shapes.toString(in) + ": the padding length must be divisible by 2 (a before and an"
          + " after count for each dimension, the last first), got " + pads.size());
    }
    if (pads.size() / 2 >= rank) {
      throw new ShapeException(this + " of " + Shapes.toString(in) + ": " + pads.size() + " counts pad " + pads.size() / 2
          + " dimensions, " + (pads.size() / 2 == rank ? "the batch (dimension 0) among them, which a compiled forward keeps" : "more than the "
          + rank + " there are") + "; pad at most the " + (rank - 1) + " after the batch (PyTorch pads the last dimensions first)");
    }
    int[] out = in.clone();
    for (int k = 0; k < pads.size() / 2; k++) {
      int d = rank - 1 - k;
      long size = (long) in[d] + pads.get(2 * k) + pads.get(2 * k + 1);
      if (size < 1 || size > Integer.MAX_VALUE) {
        throw new ShapeException(this + " of " + Shapes.toString(in) + ": dimension " + d + " of size " + in[d] + ", padded by "
            + pads.get(2 * k) + " and " + pads.get(2 * k + 1) + ", would have size " + size + (size < 1
            ? "; negative padding crops, leaving at least one entry in a compiled forward" : ""));
      }
      out[d] = (int) size;
    }
    return out;
  }

  /**
   * The offsets of the coordinate map from output to input, per dimension of {@code rank} (the batch
   * included): {@code -before} for a padded dimension, 0 for the others.
   */
  public long[] offsets(int rank) {
    long[] offset = new long[rank];
    for (int k = 0; k < pads.size() / 2; k++) {
      offset[rank - 1 - k] = -pads.get(2 * k);
    }
    return offset;
  }

  @Override
  public boolean[] flips(int[] in) {
    return new boolean[in.length];
  }

  @Override
  public long[] offsets(int[] in) {
    return offsets(in.length);
  }

  @Override
  public float fill() {
    return value;
  }

  /** The padding as written: {@code new int[] {1, 1, 2, 2}}. */
  public String array() {
    return "new int[] {" + pads.stream().map(String::valueOf).collect(Collectors.joining(", ")) + "}";
  }

  @Override
  public String toString() {
    return "pad(" + array() + (value == 0 ? "" : ", " + value) + ")";
  }
}
