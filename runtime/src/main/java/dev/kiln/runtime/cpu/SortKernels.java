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
 * sort on the key ({@link #radixSort}; stable, so the indices, laid down in order, stay in order
 * among ties), a shorter one by {@link Arrays#sort(long[], int, int)}. {@code topk} does not sort
 * the line: for a small {@code k} a bounded heap of the best k is kept while the line is read
 * once (a value that cannot get in costs one float comparison), for a larger one the line is cut
 * to the keys whose top ten bits are at most the k-th's ({@link #radixSelect}) and those are
 * sorted. Lines are split over the cores ({@link Parallel}), each line whole on one thread, so the
 * result does not depend on the number of threads. Nothing is boxed, and a part allocates its
 * buffers once for all its lines.
 */
public final class SortKernels {
  private SortKernels() {}

  /** Lines at least this long are radix sorted; shorter ones go to {@code Arrays.sort}. */
  static final int RADIX_FROM = 256;

  /** topk with k at most this (and at most a sixteenth of the line) keeps a heap of k; larger k cuts the line by its top digit. */
  static final int HEAP_UP_TO = 128;

  /** The NaNs' one key: above {@code +inf}'s ({@code 0x7f800000}), so NaN is last ascending. */
  private static final int NAN_KEY = 0x7fc00000;

  /**
   * An {@code int} whose signed order is {@code v}'s place ascending ({@code descending} false) or
   * descending: the float's bits with the magnitude bits of a negative flipped, 0 for both zeros and
   * one key for every NaN (above +inf); descending, its complement (NaN then below every number).
   */
  static int key(float v, boolean descending) {
    int b = Float.floatToRawIntBits(v);
    int k = b ^ ((b >> 31) & 0x7fffffff); // without a branch on the sign: half of a line's values are negative
    if (v != v || v == 0f) { // rare, and so predicted
      k = v == 0f ? 0 : NAN_KEY;
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
    boolean heap = useHeap(size, k);
    long work = (long) lines * size * (heap ? 2 : 8);
    Parallel.forRange(lines, work, (part, first, last) -> {
      long[] line = new long[heap ? k : size];
      long[] scratch = heap || size < RADIX_FROM ? null : new long[size];
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
   * a line of {@link #RADIX_FROM} values or more, unless {@link #useHeap}.
   */
  static int firstK(float[] x, int at, int size, int inner, int k, boolean descending, long[] line, long[] scratch) {
    if (useHeap(size, k)) {
      return heapFirstK(x, at, size, inner, k, descending, line);
    }
    for (int j = 0; j < size; j++) {
      line[j] = packed(x[at + j * inner], j, descending);
    }
    if (size < RADIX_FROM) {
      Arrays.sort(line, 0, size);
    } else {
      radixSort(line, k < size ? radixSelect(line, size, k) : size, scratch);
    }
    return k;
  }

  /**
   * Keeps, in their order, the keys of {@code a[0, n)} whose top digit (bits 54-63, the key's ten
   * high bits) is at most the k-th smallest key's, and returns how many: the k smallest and the rest
   * of their digit's bucket (about n / 1024 more for spread values; all n when every key shares the
   * digit), still in index order among equal keys for the radix sort that follows.
   */
  static int radixSelect(long[] a, int n, int k) {
    int[] count = new int[1 << 10];
    for (int j = 0; j < n; j++) {
      count[topDigit(a[j])]++;
    }
    int bucket = 0;
    for (int below = 0; below + count[bucket] < k; bucket++) {
      below += count[bucket];
    }
    int m = 0;
    for (int j = 0; j < n; j++) { // without a branch: the test is as likely either way for a large k
      long v = a[j];
      a[m] = v;
      m += topDigit(v) <= bucket ? 1 : 0;
    }
    return m;
  }

  /** Bits 54-63 of a packed key with the sign flipped: their unsigned order is the keys' signed one. */
  private static int topDigit(long v) {
    return (int) (v >>> 54) ^ 0x200;
  }

  /** Whether topk of k from a line of size keeps a heap of k. */
  private static boolean useHeap(int size, int k) {
    return k < size && k <= HEAP_UP_TO && k <= size / 16;
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
    // A later value gets in only with a smaller key than the heap top's (a tie loses to the earlier index).
    // First a float comparison with the top's value that lets through every such value (and NaNs):
    // descending unless v <= top, ascending unless v >= top (each false when either is NaN).
    int top = (int) (heap[0] >> 32);
    float topValue = x[at + (int) heap[0] * inner];
    for (int j = k; j < size; j++) {
      float v = x[at + j * inner];
      if (descending ? !(v <= topValue) : !(v >= topValue)) {
        int c = key(v, descending);
        if (c < top) {
          heap[0] = ((long) c << 32) | j;
          siftDown(heap, 0, k);
          top = (int) (heap[0] >> 32);
          topValue = x[at + (int) heap[0] * inner];
        }
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
   * Sorts {@code a[0, n)} by the high 32 bits (a signed key) alone, stably, a digit at a time from
   * the lowest: four of 8 bits, or from 16384 keys on three of 11, 11 and 10 bits (fewer passes
   * once the buckets' counts cost less than a pass over the keys); a pass whose digit is the same
   * for every key is skipped. The low bits (the indices, in order at the start) then stay in order
   * among equal keys, as the full order wants. {@code scratch} holds n keys at least.
   */
  static void radixSort(long[] a, int n, long[] scratch) {
    if (n < 2) {
      return;
    }
    int bits = n >= 1 << 14 ? 11 : 8, passes = (32 + bits - 1) / bits;
    int[] count = new int[1 << bits];
    long[] src = a, dst = scratch;
    for (int pass = 0, shift = 32; pass < passes; pass++, shift += bits) {
      int width = Math.min(bits, 64 - shift), mask = (1 << width) - 1;
      int flip = pass == passes - 1 ? 1 << (width - 1) : 0; // the key's sign bit, in the last digit
      Arrays.fill(count, 0);
      for (int j = 0; j < n; j++) {
        count[((int) (src[j] >>> shift) & mask) ^ flip]++;
      }
      if (count[((int) (src[0] >>> shift) & mask) ^ flip] == n) {
        continue;
      }
      for (int d = 0, sum = 0; d <= mask; d++) {
        int t = count[d];
        count[d] = sum;
        sum += t;
      }
      for (int j = 0; j < n; j++) {
        long v = src[j];
        dst[count[((int) (v >>> shift) & mask) ^ flip]++] = v;
      }
      long[] t = src;
      src = dst;
      dst = t;
    }
    if (src != a) {
      System.arraycopy(src, 0, a, 0, n);
    }
  }
}
