package dev.kiln.runtime.cpu;

import java.util.Arrays;

/**
 * Ordering along one dimension on the CPU: sort, argsort and topk of x seen as {@code [outer,
 * size, inner]}, a line {@code x[o, :, i]}. The order is PyTorch's {@code stable=True} (and the
 * twin {@code cuda.SortKernels}'): ascending puts NaN last, descending first; equal values (0 and
 * -0 among them, and every NaN) keep their original order.
 *
 * <p>Every value becomes one {@code long}: the high 32 bits an {@code int} key whose signed order is
 * the wanted order of the values ({@link #key}), the low 32 bits the value's index along the line.
 * The keys are then distinct and their order is total, so any correct sort or selection of them
 * gives the same result: a line of 256 values or more is sorted by a least-significant-digit radix
 * sort on the key (three passes of 11, 11 and 10 bits; stable, so the indices, laid down in order,
 * stay in order among ties), a shorter one by {@link Arrays#sort(long[], int, int)}. {@code topk}
 * selects without sorting the line: a bounded heap of the best {@code k} for small {@code k}, a
 * quickselect (falling back to a sort past a depth of {@code 2 log2 n}) up to a quarter of the
 * line, then sorts the {@code k}; a larger k sorts the line. Lines are split over the cores ({@link Parallel}), each line on one thread, so the
 * result does not depend on the number of threads.
 */
public final class SortKernels {
  private SortKernels() {}

  /** Lines at least this long are radix sorted; shorter ones go to {@code Arrays.sort}. */
  static final int RADIX_FROM = 256;

  /** topk with k at most this (and at most a sixteenth of the line) keeps a heap of k; larger k selects. */
  static final int HEAP_UP_TO = 128;

  /** topk with k at most the line's size over this selects the k, then sorts them; larger k sorts the line. */
  static final int SELECT_UP_TO = 4;

  /** The NaNs' one key: above {@code +inf}'s ({@code 0x7f800000}), so NaN is last ascending. */
  private static final int NAN_KEY = 0x7fc00000;

  /**
   * An {@code int} whose signed order is {@code v}'s place ascending ({@code descending} false) or
   * descending: the float's bits with the magnitude bits of a negative flipped, 0 for both zeros and
   * one key for every NaN (above +inf); descending, its complement (NaN then below every number).
   */
  static int key(float v, boolean descending) {
    int k;
    if (v != v) {
      k = NAN_KEY;
    } else if (v == 0f) {
      k = 0;
    } else {
      int b = Float.floatToRawIntBits(v);
      k = b >= 0 ? b : b ^ 0x7fffffff;
    }
    return descending ? ~k : k;
  }

  /** The packed key of value {@code v} at index {@code j} along its line: key high, index low. */
  private static long packed(float v, int j, boolean descending) {
    return ((long) key(v, descending) << 32) | j;
  }

  /**
   * The first {@code k} of each line of {@code x} (from {@code xOff}, {@code [outer, size, inner]})
   * in order, descending ({@code descending}, PyTorch's {@code largest}) or ascending: {@code
   * values[o, r, i]} the r-th value, {@code indices[o, r, i]} its index along the line (a float, as
   * an {@code INT32} tensor holds it), {@code from[o, r, i]} its flat position in {@code x} less
   * {@code xOff}. {@code k == size} is a sort; a smaller k a topk.
   */
  public static void ordered(float[] x, int xOff, int outer, int size, int inner, int k, boolean descending,
      float[] values, float[] indices, int[] from) {
    int lines = outer * inner;
    if (lines == 0 || k == 0) {
      return;
    }
    long work = (long) lines * size * (k > size / SELECT_UP_TO ? 8 : 2);
    Parallel.forRange(lines, work, (part, first, last) -> {
      long[] line = new long[size];
      long[] scratch = k > size / SELECT_UP_TO && size >= RADIX_FROM ? new long[size] : null;
      for (int l = first; l < last; l++) {
        int o = l / inner, i = l % inner;
        int base = o * size * inner + i;
        int n = firstK(x, xOff + base, size, inner, k, descending, line, scratch);
        for (int r = 0; r < n; r++) {
          int j = (int) line[r];
          int at = (o * k + r) * inner + i;
          from[at] = base + j * inner;
          values[at] = x[xOff + from[at]];
          indices[at] = j;
        }
      }
    });
  }

  /**
   * Leaves in {@code line[0, k)} the packed keys of the line's first k values in order (the line's
   * values at {@code x[at + j * inner]}) and returns k. {@code scratch} (size values) is needed for
   * a radix sort of the whole line.
   */
  static int firstK(float[] x, int at, int size, int inner, int k, boolean descending, long[] line, long[] scratch) {
    if (k < size && k <= HEAP_UP_TO && k <= size / 16) {
      return heapFirstK(x, at, size, inner, k, descending, line);
    }
    for (int j = 0; j < size; j++) {
      line[j] = packed(x[at + j * inner], j, descending);
    }
    if (k <= size / SELECT_UP_TO) { // the selected keys' indices are out of order: a full comparison sort of them
      select(line, 0, size, k);
      Arrays.sort(line, 0, k);
    } else if (size >= RADIX_FROM) { // the keys laid down in index order, as the radix sort needs
      radixSort(line, size, scratch != null ? scratch : new long[size]);
    } else {
      Arrays.sort(line, 0, size);
    }
    return k;
  }

  /**
   * The k smallest packed keys of the line in order, kept in a max-heap of k while the line is read
   * once: a value that does not beat the heap's top (the most common case for a long line) costs
   * one comparison.
   */
  private static int heapFirstK(float[] x, int at, int size, int inner, int k, boolean descending, long[] heap) {
    for (int j = 0; j < k; j++) {
      heap[j] = packed(x[at + j * inner], j, descending);
    }
    for (int p = k / 2 - 1; p >= 0; p--) {
      siftDown(heap, p, k);
    }
    for (int j = k; j < size; j++) {
      long c = packed(x[at + j * inner], j, descending);
      if (c < heap[0]) {
        heap[0] = c;
        siftDown(heap, 0, k);
      }
    }
    Arrays.sort(heap, 0, k);
    return k;
  }

  /** Restores the max-heap {@code h[0, n)} below {@code p}. */
  private static void siftDown(long[] h, int p, int n) {
    long v = h[p];
    while (true) {
      int c = 2 * p + 1;
      if (c >= n) {
        break;
      }
      if (c + 1 < n && h[c + 1] > h[c]) {
        c++;
      }
      if (h[c] <= v) {
        break;
      }
      h[p] = h[c];
      p = c;
    }
    h[p] = v;
  }

  /**
   * Rearranges the distinct keys {@code a[lo, hi)} so that {@code a[lo, lo + k)} hold the k smallest
   * (in no order): Hoare partitions around a median of three; past {@code 2 log2 n} rounds the rest
   * is sorted instead, so no input takes quadratic time.
   */
  static void select(long[] a, int lo, int hi, int k) {
    int target = lo + k; // a[lo, target) are to hold the smallest
    int depth = 2 * (32 - Integer.numberOfLeadingZeros(hi - lo));
    while (hi - lo > 16) {
      if (depth-- == 0) {
        Arrays.sort(a, lo, hi);
        return;
      }
      int mid = (lo + hi) >>> 1;
      long p = median(a[lo], a[mid], a[hi - 1]);
      int i = lo, j = hi - 1;
      while (i <= j) { // keys are distinct: the pivot's own slot ends the scans
        while (a[i] < p) {
          i++;
        }
        while (a[j] > p) {
          j--;
        }
        if (i <= j) {
          long t = a[i];
          a[i++] = a[j];
          a[j--] = t;
        }
      }
      // now a[lo, j] <= p <= a[i, hi), and every slot in (j, i) holds p itself
      if (target <= j + 1) {
        hi = j + 1;
      } else if (target >= i) {
        lo = i;
      } else {
        return;
      }
    }
    Arrays.sort(a, lo, hi);
  }

  private static long median(long a, long b, long c) {
    return a < b ? (b < c ? b : Math.max(a, c)) : (a < c ? a : Math.max(b, c));
  }

  /**
   * Sorts {@code a[0, n)} by the high 32 bits (a signed key) alone, stably, in three passes of 11,
   * 11 and 10 bits; a pass whose digit is the same for every key is skipped. The low bits (the
   * indices, in order at the start) then stay in order among equal keys, as the full order wants.
   */
  static void radixSort(long[] a, int n, long[] scratch) {
    int[][] counts = new int[3][2048];
    for (int j = 0; j < n; j++) {
      long v = a[j];
      counts[0][digit(v, 0)]++;
      counts[1][digit(v, 1)]++;
      counts[2][digit(v, 2)]++;
    }
    long[] src = a, dst = scratch;
    for (int pass = 0; pass < 3; pass++) {
      int[] c = counts[pass];
      if (c[digit(src[0], pass)] == n) {
        continue;
      }
      for (int d = 0, sum = 0; d < c.length; d++) {
        int t = c[d];
        c[d] = sum;
        sum += t;
      }
      for (int j = 0; j < n; j++) {
        long v = src[j];
        dst[c[digit(v, pass)]++] = v;
      }
      long[] t = src;
      src = dst;
      dst = t;
    }
    if (src != a) {
      System.arraycopy(src, 0, a, 0, n);
    }
  }

  /** Digit {@code pass} of the key in {@code v}'s high half: bits 32-42, 43-53, then 54-63 with the sign flipped. */
  private static int digit(long v, int pass) {
    return switch (pass) {
      case 0 -> (int) (v >>> 32) & 0x7ff;
      case 1 -> (int) (v >>> 43) & 0x7ff;
      default -> (int) (v >>> 54) ^ 0x200;
    };
  }
}
