package dev.kiln.processor.ir;

import dev.kiln.dsl.LayerSpec;
import dev.kiln.dsl.ShapeException;
import dev.kiln.runtime.PadModes;
import dev.kiln.runtime.Shapes;
import java.util.List;
import java.util.stream.Collectors;

/**
 * {@code F.pad(x, new int[] {left, right, ...}, mode)} in a compiled forward, of a mode that reads index tables ({@code
 * "reflect"}, {@code "replicate"}, {@code "circular"}: {@link PadModes}). Read as one index select of constant ids per padded
 * dimension, the last first, as eager mode computes it ({@code LayerExpansions}); this spec is the step's shape rule where
 * that expansion cannot be read (its input's shape unknown, or refused), so the checker names the padding on its line.
 *
 * @param mode the mode as written
 * @param pads the (before, after) pairs as written, from the last dimension backwards
 */
public record IndexedPad(String mode, List<Integer> pads) implements LayerSpec {
  public IndexedPad {
    pads = List.copyOf(pads);
  }

  /** The pairs as F.pad takes them. */
  public int[] array() {
    return pads.stream().mapToInt(Integer::intValue).toArray();
  }

  @Override
  public int[] outputShape(int[] in) {
    try {
      PadModes.check(mode, array(), in);
    } catch (IllegalArgumentException e) {
      throw new ShapeException(this + " of " + Shapes.toString(in) + ": " + e.getMessage());
    }
    int[] out = in.clone();
    for (int k = 0; k < pads.size() / 2; k++) {
      int d = in.length - 1 - k;
      out[d] = in[d] + pads.get(2 * k) + pads.get(2 * k + 1);
    }
    return out;
  }

  @Override
  public String toString() {
    return "pad(new int[] {" + pads.stream().map(String::valueOf).collect(Collectors.joining(", ")) + "}, \"" + mode + "\")";
  }
}
