package dev.kiln.runtime;

import java.util.Arrays;

/**
 * PyTorch's non-constant padding modes ({@code F.pad(x, pad, mode="reflect")}, {@code "replicate"}, {@code "circular"}) as
 * index tables: along each padded dimension, the input coordinate every output coordinate reads. A padding is then one
 * {@link Ops#indexSelect} per padded dimension, the last dimension first, whose gradient adds each output's back to the
 * input it read: eager mode computes it so ({@link Ops#pad(Tensor, int[], String)}), and a compiled forward reads the same
 * tables as index selects of constant ids, so both give the same values and gradients.
 */
public final class PadModes {
  private PadModes() {}

  /** Whether {@code mode} is one of the index-table modes (not {@code "constant"}). */
  public static boolean indexed(String mode) {
    return mode.equals("reflect") || mode.equals("replicate") || mode.equals("circular");
  }

  /**
   * Checks {@code mode} and the pairs {@code pad} against {@code shape} as PyTorch does for these modes.
   *
   * @throws IllegalArgumentException for an unknown mode, an odd count, a negative count, more pairs than the dimensions after
   *     the first, or a reflection (circular padding) of at least (more than) the dimension's size, naming them
   */
  public static void check(String mode, int[] pad, int[] shape) {
    if (!indexed(mode) && !mode.equals("constant")) {
      throw new IllegalArgumentException("pad: mode must be one of \"constant\", \"reflect\", \"replicate\" or \"circular\", got \""
          + mode + "\"");
    }
    if (pad.length % 2 != 0) {
      throw new IllegalArgumentException("pad: padding length must be divisible by 2, got " + Arrays.toString(pad) + " for shape "
          + Shapes.toString(shape));
    }
    if (!indexed(mode)) {
      return;
    }
    if (pad.length / 2 >= shape.length) {
      throw new IllegalArgumentException("pad: mode \"" + mode + "\" pads the dimensions after the first (the batch or the channels), "
          + "but " + Arrays.toString(pad) + " pads " + pad.length / 2 + " of the " + shape.length + " of shape " + Shapes.toString(shape));
    }
    for (int k = 0; k < pad.length / 2; k++) {
      int d = shape.length - 1 - k, before = pad[2 * k], after = pad[2 * k + 1];
      if (before < 0 || after < 0) {
        throw new IllegalArgumentException("pad: mode \"" + mode + "\" takes no negative padding (only \"constant\" crops), got ("
            + before + ", " + after + ") at dimension " + d + " of shape " + Shapes.toString(shape));
      }
      int size = shape[d];
      boolean reflect = mode.equals("reflect");
      if (reflect && (before >= size || after >= size) || mode.equals("circular") && (before > size || after > size)
          || size == 0) {
        throw new IllegalArgumentException("pad: " + (reflect ? "padding size should be less than" : "padding size should be at most")
            + " the corresponding input dimension in mode \"" + mode + "\", but got padding (" + before + ", " + after + ") at"
            + " dimension " + d + " of size " + size + " of shape " + Shapes.toString(shape));
      }
    }
  }

  /**
   * The input coordinate each of the {@code size + before + after} output coordinates reads along one dimension: {@code
   * reflect} mirrors about the edge values ({@code 2 1 | 0 1 2 3 | 2 1}), {@code replicate} repeats them ({@code 0 0 | 0 1 2 3 |
   * 3 3}), {@code circular} wraps round ({@code 2 3 | 0 1 2 3 | 0 1}).
   */
  public static int[] sources(String mode, int size, int before, int after) {
    int[] from = new int[size + before + after];
    for (int o = 0; o < from.length; o++) {
      int i = o - before;
      from[o] = switch (mode) {
        case "reflect" -> i < 0 ? -i : i >= size ? 2 * (size - 1) - i : i;
        case "replicate" -> Math.max(0, Math.min(size - 1, i));
        case "circular" -> Math.floorMod(i, size);
        default -> throw new IllegalArgumentException("pad: no index table for mode \"" + mode + "\"");
      };
    }
    return from;
  }
}
