package dev.kiln.runtime;

import java.util.ArrayDeque;
import java.util.HashMap;
import java.util.Map;

/**
 * Large arrays the eager engine gave up, kept per thread for its next arrays of the same length: what a
 * CPU backward was lent and has finished reading ({@link Node#recycle}), and arrays a node kept for
 * itself alone (a max pool's argmax) once its last backward has run. Only arrays that nothing else
 * holds come here, never one a tensor a caller may hold still reads. A Java array is zeroed when it
 * is made, and a fresh array of a batch of feature maps (megabytes) is made outside the young
 * generation, so each one cost the allocating thread (alone, the other cores waiting) a pass of
 * zeros that the kernel then overwrote.
 *
 * <p>An array from here holds whatever it held: take one only for a kernel that writes every element
 * (documented as "overwritten"). Arrays under {@link #SMALLEST} elements are not kept (made in the
 * thread's own allocation buffer, they cost little), nor more than {@link #MOST_BYTES} in all per thread.
 */
final class ArrayPool {
  /** The fewest elements an array needs to be kept: 256 KiB of floats. */
  static final int SMALLEST = 1 << 16;
  /** The most bytes one thread keeps (a CNN or ResNet step of batch 64 gives up some 15 MB). */
  static final long MOST_BYTES = 64L << 20;
  /** The most arrays of one length kept: a length given up more often than taken does not crowd out the others. */
  static final int MOST_OF_A_LENGTH = 8;
  /**
   * Whether arrays handed out are first filled with NaN (float) or -1 (int), for tests that check
   * that every kernel given one writes all of it.
   */
  static volatile boolean poison;

  private static final ThreadLocal<ArrayPool> POOL = ThreadLocal.withInitial(ArrayPool::new);

  private final Map<Integer, ArrayDeque<float[]>> floats = new HashMap<>();
  private final Map<Integer, ArrayDeque<int[]>> ints = new HashMap<>();
  private long bytes;

  private ArrayPool() {}


  /** An array of {@code length} floats whose contents are left over: for a kernel that overwrites all of it. */
  static float[] floats(int length) {
    ArrayPool pool = POOL.get();
    float[] a = length < SMALLEST ? null : pool.take(pool.floats, length);
    if (a == null) {
      return new float[length];
    }
    if (poison) {
      java.util.Arrays.fill(a, Float.NaN);
    }
    return a;
  }

  /** An array of {@code length} ints whose contents are left over: for a kernel that overwrites all of it. */
  static int[] ints(int length) {
    ArrayPool pool = POOL.get();
    int[] a = length < SMALLEST ? null : pool.take(pool.ints, length);
    if (a == null) {
      return new int[length];
    }
    if (poison) {
      java.util.Arrays.fill(a, -1);
    }
    return a;
  }

  /** Keeps {@code a} for a later {@link #floats} of its length; the caller and everything else must be done with it. */
  static void give(float[] a) {
    ArrayPool pool = POOL.get();
    pool.keep(pool.floats, a, a.length);
  }

  /** Keeps {@code a} for a later {@link #ints} of its length; the caller and everything else must be done with it. */
  static void give(int[] a) {
    ArrayPool pool = POOL.get();
    pool.keep(pool.ints, a, a.length);
  }

  /** A kept array of {@code length} (4-byte) elements from {@code kept}, or null. */
  private <A> A take(Map<Integer, ArrayDeque<A>> kept, int length) {
    ArrayDeque<A> ofLength = kept.get(length);
    A a = ofLength == null ? null : ofLength.pollLast();
    if (a != null) {
      bytes -= 4L * length;
    }
    return a;
  }

  /** Keeps {@code a}, of {@code length} (4-byte) elements, in {@code kept} when it is large and there is room. */
  private <A> void keep(Map<Integer, ArrayDeque<A>> kept, A a, int length) {
    if (length < SMALLEST || bytes + 4L * length > MOST_BYTES) {
      return;
    }
    ArrayDeque<A> ofLength = kept.computeIfAbsent(length, k -> new ArrayDeque<>());
    if (ofLength.size() < MOST_OF_A_LENGTH) {
      ofLength.addLast(a);
      bytes += 4L * length;
    }
  }

  /** Drops every kept array of this thread (for tests). */
  static void clear() {
    ArrayPool pool = POOL.get();
    pool.floats.clear();
    pool.ints.clear();
    pool.bytes = 0;
  }

  /** Bytes this thread keeps now (for tests). */
  static long keptBytes() {
    return POOL.get().bytes;
  }
}
