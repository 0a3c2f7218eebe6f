package dev.kiln.runtime.cpu;

import dev.kiln.runtime.Shapes;
import java.util.Arrays;

/**
 * The CPU side of PyTorch's writes by index (scatter, scatter_add, index_add, index_copy, index_fill): every write is one
 * {@link Placement}, source element {@code srcAt[j]} to result element {@code to[j]}, built and checked from the indices;
 * one forward loop and two backward loops serve them all. Eager mode ({@code ScatterOps}) and compiled models (a write by
 * index in a {@code @Model}'s forward) run these same loops over contiguous row-major values, so their results, gradients
 * and messages agree bit for bit.
 */
public final class ScatterKernels {
  private ScatterKernels() {}

  /**
   * Source element {@code srcAt[j]} goes to result element {@code to[j]}, in order (a later one wins a set). Each source
   * element has one target at most, so a source's gradient is a gather.
   */
  public record Placement(int[] to, int[] srcAt) {}

  /**
   * The placement of a scatter of {@code x} (row-major, {@code xShape}) along dimension {@code d} (counted from the front):
   * for each position of the index ({@code indexShape}, row-major {@code ids}), the result element at that position with
   * d's coordinate the id (negative ids counting from the end), and the source's ({@code srcShape}, row-major; null for a
   * scatter of a value) element at that position.
   *
   * @throws IllegalArgumentException naming {@code op} for an index larger than the source anywhere or than x off d, or an
   *     id out of range
   */
  public static Placement scatterPlaces(String op, int[] xShape, int d, int[] ids, int[] indexShape, int[] srcShape) {
    checkScatterShapes(op, xShape, d, indexShape, srcShape);
    return places(op, xShape, d, ids, indexShape, srcShape, " (input " + Shapes.toString(xShape) + ")");
  }

  /**
   * The placement of a gather of {@code x} ({@code xShape}) along {@code d}, PyTorch's {@code out[..i..] = x[..index[i]..]}: to
   * each result element ({@code to}, the index's positions, row-major) from x's element at that position with d's coordinate
   * the id ({@code srcAt}); so {@link #place} of x (set) is the forward and {@link #sourceBackward} x's gradient, eager
   * mode's order.
   *
   * @throws IllegalArgumentException naming the op for an index larger than x off d, or an id out of range
   */
  public static Placement gatherPlaces(int[] xShape, int d, int[] ids, int[] indexShape) {
    for (int k = 0; k < xShape.length; k++) {
      if (k != d && indexShape[k] > xShape[k]) {
        throw new IllegalArgumentException("gather: index " + Shapes.toString(indexShape) + " is larger than the input "
            + Shapes.toString(xShape) + " at dimension " + k);
      }
    }
    Placement p = places("gather", xShape, d, ids, indexShape, indexShape, "");
    return new Placement(p.srcAt(), p.to());
  }

  /**
   * For each position of the index ({@code indexShape}, row-major {@code ids}): x's element at that position with d's
   * coordinate the id ({@code to}) and the source's ({@code srcShape}; 0 where null, a value's write) at that position
   * ({@code srcAt}); an id out of range is an error ending with {@code suffix}.
   */
  private static Placement places(String op, int[] xShape, int d, int[] ids, int[] indexShape, int[] srcShape, String suffix) {
    int[] shape = indexShape;
    int[] xs = Shapes.contiguousStrides(xShape), ss = srcShape == null ? new int[shape.length] : Shapes.contiguousStrides(srcShape);
    int[] to = new int[ids.length], srcAt = new int[ids.length];
    int[] pos = new int[shape.length];
    int size = xShape[d];
    for (int e = 0; e < ids.length; e++) {
      int id = ids[e];
      if (id < -size || id >= size) {
        throw new IllegalArgumentException(op + ": index " + id + " at " + Shapes.toString(pos) + " is out of range for dimension " + d
            + " of size " + size + suffix);
      }
      int t = 0, s = 0;
      for (int k = 0; k < shape.length; k++) {
        t += (k == d ? (id < 0 ? id + size : id) : pos[k]) * xs[k];
        s += pos[k] * ss[k];
      }
      to[e] = t;
      srcAt[e] = s;
      for (int k = shape.length - 1; k >= 0 && ++pos[k] == shape[k]; k--) { // the next position, row-major
        pos[k] = 0;
      }
    }
    return new Placement(to, srcAt);
  }

  /**
   * Checks a scatter's index ({@code indexShape}, of x's rank) against the source ({@code srcShape}, null for a value) and
   * x ({@code xShape}) along {@code d}: no larger than the source anywhere, nor than x off d (a compiled model's shapes
   * hold -1 for the batch, equal in all three).
   *
   * @throws IllegalArgumentException naming {@code op} and the shapes
   */
  public static void checkScatterShapes(String op, int[] xShape, int d, int[] indexShape, int[] srcShape) {
    for (int k = 0; k < indexShape.length; k++) {
      if (srcShape != null && indexShape[k] > srcShape[k]) {
        throw new IllegalArgumentException(op + ": index " + Shapes.toString(indexShape) + " is larger than the source "
            + Shapes.toString(srcShape) + " at dimension " + k);
      }
      if (k != d && indexShape[k] > xShape[k]) {
        throw new IllegalArgumentException(op + ": index " + Shapes.toString(indexShape) + " is larger than the input "
            + Shapes.toString(xShape) + " at dimension " + k + " (only dimension " + d + ", the one scattered along, may be)");
      }
    }
  }

  /**
   * Checks an index form's source ({@code srcShape}): x's shape ({@code xShape}) but {@code count}, the index's length, along
   * {@code d}.
   *
   * @throws IllegalArgumentException naming {@code op} and the shapes
   */
  public static void checkIndexSource(String op, int[] xShape, int d, int count, int[] srcShape) {
    int[] expected = xShape.clone();
    expected[d] = count;
    if (!Arrays.equals(expected, srcShape)) {
      throw new IllegalArgumentException(op + ": the source must have shape " + Shapes.toString(expected) + " (the input "
          + Shapes.toString(xShape) + " with the index's " + count + " along dimension " + d + "), got " + Shapes.toString(srcShape));
    }
  }

  /**
   * The placement of slices along dimension {@code d} of {@code x} ({@code xShape}): source slice i (x's shape but {@code
   * ids.length} along d, row-major) to x's slice {@code ids[i]} (negative counting from the end).
   *
   * @throws IllegalArgumentException naming {@code op} for an id out of range
   */
  public static Placement indexPlaces(String op, int[] xShape, int d, int[] ids) {
    int size = xShape[d];
    int[] at = new int[ids.length];
    for (int i = 0; i < ids.length; i++) {
      if (ids[i] < -size || ids[i] >= size) {
        throw new IllegalArgumentException(op + ": index " + ids[i] + " at " + i + " is out of range for dimension " + d + " of size "
            + size + " (input " + Shapes.toString(xShape) + ")");
      }
      at[i] = ids[i] < 0 ? ids[i] + size : ids[i];
    }
    int outer = Shapes.numel(Arrays.copyOf(xShape, d)), inner = Shapes.numel(Arrays.copyOfRange(xShape, d + 1, xShape.length));
    int n = outer * at.length * inner;
    int[] to = new int[n], srcAt = new int[n];
    for (int o = 0, j = 0; o < outer; o++) {
      for (int k = 0; k < at.length; k++) {
        for (int i = 0; i < inner; i++, j++) {
          to[j] = (o * size + at[k]) * inner + i;
          srcAt[j] = j;
        }
      }
    }
    return new Placement(to, srcAt);
  }

  /**
   * The placement of PyTorch's {@code index_select} of {@code x} ({@code xShape}) along {@code d} at {@code ids}: to each
   * result element (x's shape but {@code ids.length} along d, row-major) from x's slice {@code ids[i]} ({@code srcAt}), the
   * index forms' placement turned round; so {@link #place} of x (set) is the forward and {@link #sourceBackward} x's gradient.
   *
   * @throws IllegalArgumentException naming index_select for an id out of range
   */
  public static Placement selectPlaces(int[] xShape, int d, int[] ids) {
    Placement p = indexPlaces("index_select", xShape, d, ids);
    return new Placement(p.srcAt(), p.to());
  }

  /**
   * The placed values into {@code out} (which holds x's values already): the source's ({@code src} from {@code srcOff}), or
   * {@code value} where src is null, added times {@code alpha} when {@code add}, else set in order.
   */
  public static void place(float[] out, int outOff, float[] src, int srcOff, float value, Placement p, boolean add, float alpha) {
    int[] to = p.to(), srcAt = p.srcAt();
    for (int j = 0; j < to.length; j++) {
      float v = src == null ? value : src[srcOff + srcAt[j]];
      if (add) {
        out[outOff + to[j]] += alpha == 1f ? v : alpha * v;
      } else {
        out[outOff + to[j]] = v;
      }
    }
  }

  /**
   * x's gradient from the result's {@code g} ({@code count} values): g as it is for the adding writes, else g with the
   * written places 0; written into {@code dx} or added to what is there ({@code accumulate}); nothing where dx is null.
   */
  public static void inputBackward(float[] dx, int dxOff, float[] g, int gOff, int count, Placement p, boolean add, boolean accumulate) {
    if (dx == null) { // (no gradient wanted)
      return;
    }
    if (!add && !accumulate) {
      System.arraycopy(g, gOff, dx, dxOff, count);
      for (int t : p.to()) {
        dx[dxOff + t] = 0f;
      }
      return;
    }
    float[] d = g;
    int dOff = gOff;
    if (!add) { // the written places get nothing from the result
      d = Arrays.copyOfRange(g, gOff, gOff + count);
      dOff = 0;
      for (int t : p.to()) {
        d[t] = 0f;
      }
    }
    if (accumulate) {
      for (int i = 0; i < count; i++) {
        dx[dxOff + i] += d[dOff + i];
      }
    } else {
      System.arraycopy(d, dOff, dx, dxOff, count);
    }
  }

  /**
   * The source's gradient ({@code srcCount} values): each source element the result's gradient at its place (times
   * {@code alpha}), added to 0, 0 where it went nowhere; written into {@code dsrc} or added to what is there ({@code
   * accumulate}: the fresh gradient first, then added, as the engine adds a node's gradient).
   */
  public static void sourceBackward(float[] dsrc, int dOff, int srcCount, float[] g, int gOff, Placement p, float alpha,
      boolean accumulate) {
    if (dsrc == null) { // (no gradient wanted)
      return;
    }
    float[] d = accumulate ? new float[srcCount] : dsrc;
    int off = accumulate ? 0 : dOff;
    if (!accumulate) {
      Arrays.fill(dsrc, dOff, dOff + srcCount, 0f);
    }
    int[] to = p.to(), srcAt = p.srcAt();
    for (int j = 0; j < to.length; j++) {
      d[off + srcAt[j]] += alpha == 1f ? g[gOff + to[j]] : alpha * g[gOff + to[j]];
    }
    if (accumulate) {
      for (int i = 0; i < srcCount; i++) {
        dsrc[dOff + i] += d[i];
      }
    }
  }

  /** The ids stored as floats ({@code count} from {@code off}, whole numbers exact to 2^24), as ints. */
  public static int[] ids(float[] values, int off, int count) {
    int[] ids = new int[count];
    for (int i = 0; i < count; i++) {
      ids[i] = (int) values[off + i];
    }
    return ids;
  }
}
