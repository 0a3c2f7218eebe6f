package dev.kiln.processor.ir;

import dev.kiln.dsl.LayerSpec;
import dev.kiln.dsl.ShapeException;
import java.util.List;
import java.util.stream.Collectors;

/**
 * {@code x.roll(shift, dim)} or {@code x.roll(shifts, dims)} in a compiled forward: the entries rotated along dimensions after
 * the batch, each entry moved {@code shift} places on (those past the end wrapping round to the start; a negative shift
 * back), as eager mode's roll; a dimension given twice rolls by both shifts. Values are moved, never summed: one copy each way
 * ({@code IndexKernels.roll}), the gradient rotated back, values and gradients eager mode's bit for bit.
 *
 * @param shifts the shifts as written
 * @param dims the dimensions as written, negative counting from the end, one per shift
 */
public record Roll(List<Integer> shifts, List<Integer> dims) implements LayerSpec {
  public Roll {
    shifts = List.copyOf(shifts);
    dims = List.copyOf(dims);
    if (shifts.size() != dims.size() || dims.isEmpty()) {
      throw new IllegalArgumentException("roll: shifts " + shifts + " and dims " + dims + " must have the same length, at least one");
    }
  }

  @Override
  public int[] outputShape(int[] in) {
    places(in);
    return in.clone();
  }

  /**
   * The shift along each dimension of {@code in} (the batch first), in {@code [0, size)}: 0 for the batch and the dimensions
   * not rolled.
   *
   * @throws ShapeException for a dimension out of range or the batch
   */
  public int[] places(int[] in) {
    int[] shift = new int[in.length];
    for (int i = 0; i < dims.size(); i++) {
      int d = AfterBatch.dimension(this, in, dims.get(i), "roll along dimensions after it");
      shift[d] = in[d] == 0 ? 0 : Math.floorMod(shift[d] + Math.floorMod(shifts.get(i), in[d]), in[d]);
    }
    return shift;
  }

  /** The eager call's arguments: {@code 1, 2} for one dimension, else {@code new int[] {1, -1}, new int[] {1, 2}}. */
  public String arguments() {
    return dims.size() == 1 ? shifts.get(0) + ", " + dims.get(0)
        : "new int[] {" + joined(shifts) + "}, new int[] {" + joined(dims) + "}";
  }

  private static String joined(List<Integer> values) {
    return values.stream().map(String::valueOf).collect(Collectors.joining(", "));
  }

  @Override
  public String toString() {
    return "roll(" + arguments() + ")";
  }
}
