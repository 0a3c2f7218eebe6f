package dev.kiln.runtime;

import java.util.Arrays;

/** Shape arithmetic shared by tensors, layers and (later) the annotation processor. Allocates no tensors. */
public final class Shapes {
  private Shapes() {}

  /** Number of elements of a shape; throws if a dimension is negative or the count overflows an int. */
  public static int numel(int... shape) {
    long n = 1;
    for (int d : shape) {
      if (d < 0) {
        throw new IllegalArgumentException("negative dimension in shape " + Arrays.toString(shape));
      }
      n *= d;
      if (n > Integer.MAX_VALUE) {
        throw new IllegalArgumentException(
            "shape " + Arrays.toString(shape) + " has more than 2^31-1 elements");
      }
    }
    return (int) n;
  }

  /**
   * The shape {@code a} and {@code b} broadcast to, by PyTorch's (NumPy's) rule: aligned from the
   * last dimension, the shorter padded with leading 1s, each pair of sizes equal or one of them 1
   * (which stretches to the other, 0 included).
   *
   * @throws IllegalArgumentException naming {@code op}, both shapes and the first dimension (of the
   *     result) where the sizes differ and neither is 1
   */
  public static int[] broadcast(String op, int[] a, int[] b) {
    int rank = Math.max(a.length, b.length);
    int[] out = new int[rank];
    for (int d = rank - 1; d >= 0; d--) {
      int sa = d - (rank - a.length) >= 0 ? a[d - (rank - a.length)] : 1;
      int sb = d - (rank - b.length) >= 0 ? b[d - (rank - b.length)] : 1;
      if (sa != sb && sa != 1 && sb != 1) {
        throw new IllegalArgumentException(
            op + ": shapes " + toString(a) + " and " + toString(b) + " do not broadcast: sizes " + sa + " and " + sb
                + " at dimension " + d + " of the result (aligned from the last dimension, sizes must be equal or 1)");
      }
      out[d] = sa == 1 ? sb : sa;
    }
    numel(out); // the broadcast shape may overflow where neither operand does
    return out;
  }

  /** {@code shape} followed by {@code more}: {@code concat([2, 3], 4, 5)} is {@code [2, 3, 4, 5]}. */
  public static int[] concat(int[] shape, int... more) {
    int[] out = Arrays.copyOf(shape, shape.length + more.length);
    System.arraycopy(more, 0, out, shape.length, more.length);
    return out;
  }

  /**
   * A shape seen as {@code [outer, size, inner]} around dimension {@code dim} (negative counts from
   * the end): the products of the dimensions before it and after it, and its own size. The
   * softmax and reduce-along kernels take their inputs this way.
   *
   * @throws IllegalArgumentException if {@code dim} is out of range
   */
  public static int[] along(int[] shape, int dim) {
    int d = normalizeDim(dim, shape.length);
    return new int[] {
      numel(Arrays.copyOfRange(shape, 0, d)), shape[d], numel(Arrays.copyOfRange(shape, d + 1, shape.length))
    };
  }

  /**
   * Which dimensions of a rank-{@code rank} shape a reduction over {@code dims} takes, as PyTorch
   * reads {@code x.sum(dim=(2, 3))}: in any order, negative counting from the end, none repeated;
   * no dimensions at all means every one (PyTorch's {@code x.sum(dim=())}).
   *
   * @throws IllegalArgumentException for a dimension out of range (as {@link #normalizeDim}) or one
   *     given twice, naming it
   */
  public static boolean[] reducedDims(int[] dims, int rank) {
    boolean[] reduced = new boolean[rank];
    if (dims.length == 0) {
      Arrays.fill(reduced, true);
      return reduced;
    }
    int[] given = new int[rank];
    for (int dim : dims) {
      int d = normalizeDim(dim, rank);
      if (reduced[d]) {
        throw new IllegalArgumentException("dimension " + dim + (dim == given[d] ? " is given twice" : " repeats dimension "
            + given[d]) + " (each dimension is reduced once)");
      }
      reduced[d] = true;
      given[d] = dim;
    }
    return reduced;
  }

  /**
   * A shape reduced over the {@code reduced} dimensions, seen as alternating runs {@code [kept,
   * reduced, kept, ..., kept]} of adjacent dimensions merged (the products of their sizes; a
   * dimension of size 1 joins either run, the first and last kept runs may be 1): {@code [N, C,
   * H*W]} for the mean over {@code (2, 3)} of {@code [N, C, H, W]}, {@code [1, N, C, H*W, 1]} over
   * {@code (0, 2, 3)}. Three runs are one {@code [outer, size, inner]} reduction (the reduce-along
   * kernels'); one run reduces nothing.
   */
  public static int[] reductionRuns(int[] shape, boolean[] reduced) {
    int[] runs = new int[2 * shape.length + 2];
    int count = 1;
    runs[0] = 1;
    boolean inReduced = false;
    for (int d = 0; d < shape.length; d++) {
      if (shape[d] == 1) {
        continue;
      }
      if (reduced[d] != inReduced) {
        runs[count++] = 1;
        inReduced = reduced[d];
      }
      runs[count - 1] *= shape[d];
    }
    if (inReduced) {
      runs[count++] = 1;
    }
    return Arrays.copyOf(runs, count);
  }

  /**
   * The passes of an expand of {@code from} to {@code to} (one rank; a size of 1 in {@code from} stretches to
   * {@code to}'s), in the order {@link Ops#expand} runs them: from each dimension where the two differ, the run of
   * adjacent dimensions of size 1 in {@code from} stretched in one pass, as {@code {outer, size, inner, start, end}}
   * (the shape so far seen as {@code [outer, size, inner]} around dimensions {@code start..end-1}, {@code size} their
   * stretched product). None where the shapes are equal. A compiled {@code x.repeat(...)} runs the same passes.
   */
  public static int[][] expandRuns(int[] from, int[] to) {
    int rank = to.length;
    java.util.List<int[]> runs = new java.util.ArrayList<>();
    for (int d = 0; d < rank; d++) {
      if (from[d] == to[d]) {
        continue;
      }
      int start = d;
      while (d < rank && from[d] == 1) { // a run of size-1 dimensions stretched in one pass
        d++;
      }
      runs.add(new int[] {numel(Arrays.copyOfRange(to, 0, start)), numel(Arrays.copyOfRange(to, start, d)),
          numel(Arrays.copyOfRange(from, d, rank)), start, d});
      d--;
    }
    return runs.toArray(new int[0][]);
  }

  /** {@code shape} without its {@code reduced} dimensions, or with them of size 1 when {@code keepDim}. */
  public static int[] reducedShape(int[] shape, boolean[] reduced, boolean keepDim) {
    int[] out = new int[shape.length];
    int k = 0;
    for (int d = 0; d < shape.length; d++) {
      if (!reduced[d]) {
        out[k++] = shape[d];
      } else if (keepDim) {
        out[k++] = 1;
      }
    }
    return Arrays.copyOf(out, k);
  }

  /**
   * Whether {@code own}, less its leading ones, is the trailing dimensions of {@code shape}: an
   * operand whose value for output {@code i} is its {@code i % numel}-th ({@code [S, S]} or
   * {@code [1, 1, S, S]} over {@code [N, H, S, S]}, a scalar over anything).
   */
  public static boolean repeatsOver(int[] shape, int[] own) {
    int lead = 0;
    while (lead < own.length && own[lead] == 1) {
      lead++;
    }
    int k = own.length - lead;
    if (k > shape.length) {
      return false;
    }
    for (int i = 0; i < k; i++) {
      if (own[lead + i] != shape[shape.length - k + i]) {
        return false;
      }
    }
    return true;
  }

  /** Row-major (C order) strides of a shape. */
  public static int[] contiguousStrides(int... shape) {
    int[] strides = new int[shape.length];
    int s = 1;
    for (int i = shape.length - 1; i >= 0; i--) {
      strides[i] = s;
      s *= shape[i];
    }
    return strides;
  }

  /** Resolves a possibly negative dimension index against a rank, as PyTorch does. */
  public static int normalizeDim(int dim, int rank) {
    if (rank == 0) {
      throw new IllegalArgumentException(
          "dimension " + dim + " is out of range: a tensor of rank 0 (one value) has no dimensions;"
              + " reshape(1) gives it one");
    }
    int d = dim < 0 ? dim + rank : dim;
    if (d < 0 || d >= rank) {
      throw new IllegalArgumentException(
          "dimension " + dim + " is out of range for a tensor of rank " + rank
              + " (expected " + (-rank) + ".." + (rank - 1) + ")");
    }
    return d;
  }

  /**
   * Resolves a reshape target with at most one {@code -1} against an element count.
   *
   * @throws IllegalArgumentException naming both shapes when the counts differ
   */
  public static int[] inferReshape(int[] from, int... to) {
    int numel = numel(from);
    int inferred = -1;
    long known = 1;
    for (int i = 0; i < to.length; i++) {
      if (to[i] == -1) {
        if (inferred >= 0) {
          throw new IllegalArgumentException("reshape " + Arrays.toString(to) + ": only one dimension can be -1");
        }
        inferred = i;
      } else if (to[i] < 0) {
        throw new IllegalArgumentException("reshape " + Arrays.toString(to) + ": negative dimension " + to[i]);
      } else {
        known *= to[i];
      }
    }
    int[] result = to.clone();
    if (inferred >= 0) {
      if (known == 0 || numel % known != 0) {
        throw new IllegalArgumentException(
            "cannot reshape " + Arrays.toString(from) + " (" + numel + " elements) into " + Arrays.toString(to));
      }
      result[inferred] = (int) (numel / known);
    } else if (known != numel) {
      throw new IllegalArgumentException(
          "cannot reshape " + Arrays.toString(from) + " (" + numel + " elements) into "
              + Arrays.toString(to) + " (" + known + " elements)");
    }
    return result;
  }

  /** Shape of {@code flatten(startDim, endDim)}: the dimensions between the two merged into one. */
  public static int[] flatten(int[] shape, int startDim, int endDim) {
    if (shape.length == 0) {
      return new int[] {1};
    }
    int s = normalizeDim(startDim, shape.length);
    int e = normalizeDim(endDim, shape.length);
    if (s > e) {
      throw new IllegalArgumentException(
          "flatten: start_dim " + startDim + " comes after end_dim " + endDim + " for shape " + Arrays.toString(shape));
    }
    int[] out = new int[shape.length - (e - s)];
    int k = 0;
    for (int i = 0; i < s; i++) {
      out[k++] = shape[i];
    }
    long merged = 1;
    for (int i = s; i <= e; i++) {
      merged *= shape[i];
    }
    out[k++] = (int) merged;
    for (int i = e + 1; i < shape.length; i++) {
      out[k++] = shape[i];
    }
    return out;
  }

  /** {@code [2, 3]} style text, with {@code N} for a symbolic batch dimension marked by -1. */
  public static String toString(int... shape) {
    StringBuilder sb = new StringBuilder("[");
    for (int i = 0; i < shape.length; i++) {
      if (i > 0) {
        sb.append(", ");
      }
      sb.append(shape[i] == -1 ? "N" : Integer.toString(shape[i]));
    }
    return sb.append(']').toString();
  }
}
