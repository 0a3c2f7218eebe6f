package dev.kiln.runtime.cpu;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kiln.runtime.Ops;
import dev.kiln.runtime.Tensor;
import dev.kiln.runtime.ValuesAndIndices;
import java.util.Arrays;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * The CPU's sort and topk against the order they had before the primitive kernels, kept here as
 * the specification: a stable comparison sort of boxed indices (PyTorch's {@code stable=True}: NaN
 * last ascending and first descending, -0 and 0 tied, ties in their original order). Lines hold
 * ties, NaNs with several payloads, infinities and both zeros; values are compared bit for bit,
 * so a -0 and a 0 swapped, or two NaNs, fail.
 */
class SortKernelsTest {
  /** The first k of a line's indices in the reference order. */
  private static int[] reference(float[] x, int at, int size, int inner, int k, boolean descending) {
    Integer[] order = new Integer[size];
    for (int j = 0; j < size; j++) {
      order[j] = j;
    }
    Arrays.sort(order, (p, q) -> {
      float u = x[at + p * inner], v = x[at + q * inner];
      int byNan = Boolean.compare(Float.isNaN(v), Float.isNaN(u));
      if (byNan != 0) {
        return descending ? byNan : -byNan;
      }
      int c = u > v ? -1 : u < v ? 1 : 0;
      return descending ? c : -c;
    });
    int[] first = new int[k];
    for (int r = 0; r < k; r++) {
      first[r] = order[r];
    }
    return first;
  }

  /** Values from a few ties, both zeros, NaNs of two payloads, infinities and random numbers (a quarter each way). */
  private static float[] tiedValues(Random random, int n) {
    float[] pool = {0f, -0f, 1f, -1f, 2.5f, Float.NaN, Float.intBitsToFloat(0xffc00001), Float.POSITIVE_INFINITY,
        Float.NEGATIVE_INFINITY, Float.MIN_VALUE, -Float.MIN_VALUE, Float.MAX_VALUE, -Float.MAX_VALUE};
    float[] x = new float[n];
    for (int j = 0; j < n; j++) {
      x[j] = random.nextInt(4) == 0 ? (float) random.nextGaussian() : pool[random.nextInt(pool.length)];
    }
    return x;
  }

  private static void checkAgainstReference(String what, float[] x, int outer, int size, int inner, int k, boolean descending) {
    int count = outer * k * inner;
    float[] values = new float[count], indices = new float[count];
    int[] from = new int[count];
    SortKernels.ordered(x, 0, outer, size, inner, k, descending, values, indices, from);
    for (int o = 0; o < outer; o++) {
      for (int i = 0; i < inner; i++) {
        int base = o * size * inner + i;
        int[] want = reference(x, base, size, inner, k, descending);
        for (int r = 0; r < k; r++) {
          int at = (o * k + r) * inner + i;
          String where = what + " [" + outer + ", " + size + ", " + inner + "] k " + k + (descending ? " descending" : " ascending")
              + ", line (" + o + ", " + i + ") rank " + r;
          assertEquals(want[r], (int) indices[at], where + ": index");
          assertEquals(base + want[r] * inner, from[at], where + ": from");
          assertEquals(Float.floatToRawIntBits(x[base + want[r] * inner]), Float.floatToRawIntBits(values[at]), where + ": value bits");
        }
      }
    }
  }

  @Test
  void zerosAndNansKeepTheirOrderAsTies() {
    float nan2 = Float.intBitsToFloat(0x7fc00005);
    Tensor x = Tensor.of(new float[] {0f, -0f, Float.NaN, 1f, nan2, -0f, Float.NEGATIVE_INFINITY, Float.POSITIVE_INFINITY});
    ValuesAndIndices up = Ops.sort(x, 0, false);
    assertArrayEquals(new int[] {6, 0, 1, 5, 3, 7, 2, 4}, up.indices().toIntArray());
    ValuesAndIndices down = Ops.sort(x, 0, true);
    assertArrayEquals(new int[] {2, 4, 7, 3, 0, 1, 5, 6}, down.indices().toIntArray());
    float[] v = down.values().toFloatArray();
    assertEquals(0x7fc00005, Float.floatToRawIntBits(v[1]), "the second NaN is the one at index 4");
    assertEquals(Float.floatToRawIntBits(-0f), Float.floatToRawIntBits(v[5]), "-0 after 0 descending, as they came");
    assertArrayEquals(new int[] {2, 4, 7}, Ops.topk(x, 3, 0, true).indices().toIntArray());
    assertArrayEquals(new int[] {6, 0, 1}, Ops.topk(x, 3, 0, false).indices().toIntArray());
  }

  @Test
  void keysOrderFloatsAsTheComparisonDoes() {
    float[] ascending = {Float.NEGATIVE_INFINITY, -Float.MAX_VALUE, -1f, -Float.MIN_NORMAL, -Float.MIN_VALUE, 0f,
        Float.MIN_VALUE, Float.MIN_NORMAL, 1f, Float.MAX_VALUE, Float.POSITIVE_INFINITY, Float.NaN};
    for (int j = 0; j + 1 < ascending.length; j++) {
      assertTrue(SortKernels.key(ascending[j], false) < SortKernels.key(ascending[j + 1], false), ascending[j] + " before " + ascending[j + 1]);
      assertTrue(SortKernels.key(ascending[j], true) > SortKernels.key(ascending[j + 1], true), ascending[j] + " after " + ascending[j + 1]);
    }
    assertEquals(SortKernels.key(0f, false), SortKernels.key(-0f, false));
    assertEquals(SortKernels.key(Float.NaN, true), SortKernels.key(Float.intBitsToFloat(0xffc00001), true));
  }

  @Test
  void sortAndTopkMatchTheStableComparisonSort() {
    Random random = new Random(7);
    int[][] shapes = {{1, 1, 1}, {3, 2, 1}, {2, 17, 3}, {2, 255, 1}, {1, 256, 2}, {3, 1000, 1}, {2, 5000, 1}, {1, 3000, 3},
        {200, 40, 1}};
    for (int[] s : shapes) {
      int outer = s[0], size = s[1], inner = s[2];
      float[] x = tiedValues(random, outer * size * inner);
      int[] ks = {1, 2, Math.max(1, size / 32), size / 16 + 1, size / 2, size - 1, size};
      for (int k : ks) {
        if (k < 1 || k > size) {
          continue;
        }
        for (boolean descending : new boolean[] {false, true}) {
          checkAgainstReference("tied", x, outer, size, inner, k, descending);
        }
      }
    }
  }

  @Test
  void orderedInputsAndAllTiesSelectInOrder() {
    int size = 4000;
    float[] rising = new float[size], falling = new float[size], same = new float[size], organ = new float[size];
    for (int j = 0; j < size; j++) {
      rising[j] = j;
      falling[j] = -j;
      same[j] = j % 2 == 0 ? 0f : -0f;
      organ[j] = Math.min(j, size - j);
    }
    for (float[] x : new float[][] {rising, falling, same, organ}) {
      for (int k : new int[] {1, 5, 100, 129, 250, 251, 1999, 2000, 3999, 4000}) {
        checkAgainstReference("pattern", x, 1, size, 1, k, false);
        checkAgainstReference("pattern", x, 1, size, 1, k, true);
      }
    }
  }

  @Test
  void radixSortSortsByTheKeyAndKeepsTheIndicesInOrder() {
    Random random = new Random(3);
    int n = 3000;
    long[] a = new long[n];
    for (int j = 0; j < n; j++) {
      a[j] = ((long) (random.nextInt(7) - 3) << 32 | j) ^ (random.nextBoolean() ? 0L : Long.MIN_VALUE);
    }
    long[] want = a.clone();
    Arrays.sort(want);
    SortKernels.radixSort(a, n, new long[n]);
    assertArrayEquals(want, a);
  }

  @Test
  void tensorsAlongEveryDimension() {
    Random random = new Random(11);
    int[] shape = {3, 70, 5, 4};
    float[] data = tiedValues(random, 3 * 70 * 5 * 4);
    Tensor x = Tensor.of(data).reshape(shape);
    for (int dim = 0; dim < shape.length; dim++) {
      int outer = 1, inner = 1;
      for (int d = 0; d < dim; d++) {
        outer *= shape[d];
      }
      for (int d = dim + 1; d < shape.length; d++) {
        inner *= shape[d];
      }
      for (boolean descending : new boolean[] {false, true}) {
        for (int k : new int[] {1, 2, shape[dim]}) {
          ValuesAndIndices got = k == shape[dim] ? Ops.sort(x, dim, descending) : Ops.topk(x, k, dim, descending);
          int[] idx = got.indices().toIntArray();
          float[] vals = got.values().toFloatArray();
          for (int o = 0; o < outer; o++) {
            for (int i = 0; i < inner; i++) {
              int base = o * shape[dim] * inner + i;
              int[] want = reference(data, base, shape[dim], inner, k, descending);
              for (int r = 0; r < k; r++) {
                int at = (o * k + r) * inner + i;
                String where = "dim " + dim + " k " + k + (descending ? " descending" : " ascending") + " at " + at;
                assertEquals(want[r], idx[at], where);
                assertEquals(Float.floatToRawIntBits(data[base + want[r] * inner]), Float.floatToRawIntBits(vals[at]), where);
              }
            }
          }
        }
      }
    }
  }
}
