package dev.kiln.processor.ir;

import dev.kiln.runtime.Shapes;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Collectors;

/**
 * How the smaller value of a compiled {@link Add} or {@link Mul} repeats over the other, as
 * PyTorch broadcasts it: per sample, the bigger value is {@code [groups, size, inner]} and the
 * smaller {@code [groups, inner]}, its sizes of 1 making one run of dimensions. {@code [C, 1, 1]}
 * over {@code [C, H, W]} (a squeeze-and-excitation scale): groups C, size H*W, inner 1;
 * {@code [1, H, W]} over it: groups 1, size C, inner H*W.
 */
public record Repeat(int groups, int size, int inner) {
  /**
   * Which of two shapes (batch first, -1) the result has: 0 for {@code a}'s (equal shapes too), 1 for
   * {@code b}'s.
   *
   * @throws IllegalArgumentException saying why the two do not make a compiled add or mul
   */
  public static int bigger(int[] a, int[] b) {
    if (a.length != b.length) {
      throw new IllegalArgumentException("their ranks differ, and both start with the batch dimension, so their"
          + " dimensions do not line up");
    }
    List<Integer> aStretches = new ArrayList<>(), bStretches = new ArrayList<>();
    for (int d = 1; d < a.length; d++) {
      if (a[d] != b[d] && a[d] != 1 && b[d] != 1) {
        throw new IllegalArgumentException("sizes " + a[d] + " and " + b[d] + " at dimension " + d + " differ and neither is 1");
      }
      if (a[d] == 1 && b[d] != 1) {
        aStretches.add(d);
      } else if (b[d] == 1 && a[d] != 1) {
        bStretches.add(d);
      }
    }
    if (!aStretches.isEmpty() && !bStretches.isEmpty()) {
      throw new IllegalArgumentException("each would stretch over the other: " + Shapes.toString(a) + " along "
          + dimensions(aStretches) + ", " + Shapes.toString(b) + " along " + dimensions(bStretches));
    }
    int big = aStretches.isEmpty() ? 0 : 1;
    of(big == 0 ? a : b, big == 0 ? b : a); // the run check
    return big;
  }

  /**
   * Whether a tensor field of shape {@code field} (no batch dimension) repeats over the batch of a
   * value of shape {@code value} (batch first, -1), as PyTorch broadcasts it: its sizes after any
   * leading 1s are the value's last ones, and it has no more dimensions than the value ({@code [S, D]}
   * or {@code [1, S, D]} over {@code [N, S, D]}, a position table; {@code [D]} or {@code [1, 1, D]}, a
   * bias by hand, repeated over the positions too). A compiled add or mul of the two runs
   * {@code [1, N * repeats per sample, values of the field]} ({@link #fieldRepeats}).
   */
  public static boolean overBatch(int[] value, int[] field) {
    if (field.length > value.length) {
      return false;
    }
    int lead = 0;
    while (lead < field.length && field[lead] == 1) {
      lead++;
    }
    int[] own = java.util.Arrays.copyOfRange(field, lead, field.length);
    if (own.length > value.length - 1) {
      return false;
    }
    return java.util.Arrays.equals(own, java.util.Arrays.copyOfRange(value, value.length - own.length, value.length));
  }

  /**
   * How many times a tensor field that {@link #overBatch} accepted repeats within one sample of the
   * value: 1 for a position table of the sample's shape, S for a bias {@code [D]} over {@code [N, S, D]}.
   */
  public static int fieldRepeats(int[] value, int[] field) {
    return Shapes.numel(java.util.Arrays.copyOfRange(value, 1, value.length)) / Shapes.numel(field);
  }

  private static String dimensions(List<Integer> dims) {
    return (dims.size() == 1 ? "dimension " : "dimensions ")
        + dims.stream().map(String::valueOf).collect(Collectors.joining(", "));
  }

  /**
   * The layout of {@code small} repeated over {@code big} (shapes that {@link #bigger} accepted, in
   * that order), or null when they are equal.
   *
   * @throws IllegalArgumentException when the stretched dimensions are not one run
   */
  public static Repeat of(int[] big, int[] small) {
    int first = -1, last = -1;
    for (int d = 1; d < big.length; d++) {
      if (small[d] == 1 && big[d] != 1) {
        first = first < 0 ? d : first;
        last = d;
      }
    }
    if (first < 0) {
      return null;
    }
    for (int d = first; d <= last; d++) {
      if (small[d] != 1) {
        throw new IllegalArgumentException(Shapes.toString(small) + " stretches over dimensions " + first + " and " + last
            + " but not " + d + " between them");
      }
    }
    int groups = 1, size = 1, inner = 1;
    for (int d = 1; d < big.length; d++) {
      if (d < first) {
        groups *= big[d];
      } else if (d <= last) {
        size *= big[d];
      } else {
        inner *= big[d];
      }
    }
    return new Repeat(groups, size, inner);
  }
}
