package dev.kiln.processor.read;

import dev.kiln.processor.ir.TensorIr;
import java.util.ArrayList;
import java.util.List;

/**
 * Where a parameter's slice lies among the parameter's values when it is not one run nor runs at one stride ({@code
 * grid.narrow(2, 0, 6).narrow(1, 0, 2)} of {@code [6, 3, 8]}: runs at two strides): each value's position is computed
 * (the slice's eager calls applied to the positions of the values they slice), then factored into runs of one width at
 * nested strides ({@link TensorIr.Runs#groups}), or found to be no such thing.
 */
final class ParameterRuns {
  /** The most values a slice's positions are computed for (a larger parameter's slice must be one run or at one stride). */
  static final int MAX_VALUES = 1 << 22;

  private ParameterRuns() {}

  /** A slice's place among its parameter's values: from {@code offset}, one contiguous run ({@code runs} null) or {@code runs}. */
  record Place(int offset, TensorIr.Runs runs) {}

  /**
   * The place of eager's {@code name(sizes)} ({@code out} its shape) of a tensor of {@code shape} whose values lie at {@code
   * offset} and {@code runs} (null: one contiguous run) in its parameter's, or null when it is not runs of one width at
   * nested strides or too large to compute.
   */
  static Place sliced(int offset, TensorIr.Runs runs, int[] shape, String name, int[] sizes, int[] out) {
    int numel = 1;
    for (int s : shape) {
      numel *= s;
    }
    if (numel > MAX_VALUES) {
      return null;
    }
    int[] at = positions(offset, runs, numel);
    if (!name.equals("narrow") && !name.equals("slice") && !name.equals("select")) {
      return factor(at); // a view: the same values in the same order
    }
    int dim = sizes[0] < 0 ? sizes[0] + shape.length : sizes[0];
    int from = sizes[1] < 0 ? sizes[1] + shape[dim] : sizes[1];
    if (name.equals("slice")) {
      from = Math.min(shape[dim], Math.max(0, from));
    }
    int length = name.equals("select") ? 1 : out[dim];
    int inner = 1;
    for (int i = dim + 1; i < shape.length; i++) {
      inner *= shape[i];
    }
    int outer = numel / (shape[dim] * inner);
    int[] picked = new int[outer * length * inner];
    for (int o = 0, k = 0; o < outer; o++) {
      System.arraycopy(at, (o * shape[dim] + from) * inner, picked, k, length * inner);
      k += length * inner;
    }
    return factor(picked);
  }

  /** The position of each of {@code numel} values at {@code offset} and {@code runs}, in order. */
  private static int[] positions(int offset, TensorIr.Runs runs, int numel) {
    int[] at = new int[numel];
    if (runs == null) {
      for (int i = 0; i < numel; i++) {
        at[i] = offset + i;
      }
      return at;
    }
    int[] groups = runs.groups();
    int[] counts = new int[groups.length / 2 + 1];
    int[] pitches = new int[counts.length];
    for (int l = 0; l < groups.length / 2; l++) {
      counts[l] = groups[2 * l];
      pitches[l] = groups[2 * l + 1];
    }
    counts[counts.length - 1] = runs.count();
    pitches[counts.length - 1] = runs.pitch();
    int[] digit = new int[counts.length];
    for (int k = 0; k * runs.width() < numel; k++) { // run k: its start from the digits of k
      int start = offset;
      for (int l = 0; l < counts.length; l++) {
        start += digit[l] * pitches[l];
      }
      for (int i = 0; i < runs.width(); i++) {
        at[k * runs.width() + i] = start + i;
      }
      for (int l = counts.length - 1; l >= 0 && ++digit[l] == counts[l]; l--) {
        digit[l] = 0;
      }
    }
    return at;
  }

  /**
   * {@code at} as runs of one width at nested strides: the longest run from the first value its width, the runs' starts an
   * arithmetic progression per group, the groups' starts again, and so on; null when the values are not so laid out.
   */
  static Place factor(int[] at) {
    int n = at.length;
    int width = 1;
    while (width < n && at[width] == at[0] + width) {
      width++;
    }
    if (n % width != 0) {
      return null;
    }
    int[] starts = new int[n / width];
    for (int k = 0; k < starts.length; k++) {
      starts[k] = at[k * width];
      for (int i = 1; i < width; i++) {
        if (at[k * width + i] != starts[k] + i) {
          return null;
        }
      }
    }
    List<int[]> levels = new ArrayList<>(); // {count, pitch}, innermost first
    while (starts.length > 1) {
      int pitch = starts[1] - starts[0];
      if (pitch <= 0) {
        return null;
      }
      int count = 1;
      while (count < starts.length && starts[count] == starts[0] + count * pitch) {
        count++;
      }
      if (starts.length % count != 0) {
        return null;
      }
      int[] next = new int[starts.length / count];
      for (int g = 0; g < next.length; g++) {
        next[g] = starts[g * count];
        for (int i = 1; i < count; i++) {
          if (starts[g * count + i] != next[g] + i * pitch) {
            return null;
          }
        }
      }
      levels.add(new int[] {count, pitch});
      starts = next;
    }
    if (levels.isEmpty()) {
      return new Place(starts[0], null);
    }
    int[] groups = new int[2 * (levels.size() - 1)];
    for (int l = levels.size() - 1, j = 0; l >= 1; l--) {
      groups[j++] = levels.get(l)[0];
      groups[j++] = levels.get(l)[1];
    }
    return new Place(starts[0], new TensorIr.Runs(levels.get(0)[0], levels.get(0)[1], width, groups));
  }
}
