package dev.kiln.runtime.cpu;

/**
 * A compiled model's subtraction, division and constant shift, forward and backward, beside the
 * add and mul kernels of {@link CpuKernels}: two values of one shape, or one repeated along the middle
 * of the other seen as {@code [outer, size, inner]} (the small one {@code [outer, inner]}), as PyTorch
 * broadcasts {@code [N, C, 1, 1]} over {@code [N, C, H, W]} (outer {@code N C}, size {@code H W}, inner 1)
 * or a position table over the batch (outer 1, size {@code N}, inner the values per sample).
 *
 * <p>The arithmetic is PyTorch's: {@code a - b}, and a true quotient {@code a / b} whose gradients are
 * {@code g / b} for {@code a} and {@code -g * ((a / b) / b)} for {@code b} (ATen's
 * {@code div_tensor_other_backward}, with the quotient {@code y} saved by the forward); a repeated
 * operand's gradient is the sum over its repeats, in double, as {@link CpuKernels#sumRepeatedBackward}
 * sums. Backward kernels write ("=") or add ({@code accumulate}) and do nothing when {@code dst} is null.
 */
public final class ArithmeticKernels {
  private ArithmeticKernels() {}

  /** {@code out = a - b} over {@code n} values. */
  public static void subForward(float[] out, int outOff, float[] a, int aOff, float[] b, int bOff, int n) {
    Parallel.forRange(n, 2L * n, (part, from, to) -> {
      if (outOff == aOff && aOff == bOff) { // one index, vectorised (CpuKernels.accumulate says why)
        for (int i = outOff + from; i < outOff + to; i++) {
          out[i] = a[i] - b[i];
        }
        return;
      }
      for (int i = from; i < to; i++) {
        out[outOff + i] = a[aOff + i] - b[bOff + i];
      }
    });
  }

  /**
   * {@code out = big - small} or, {@code smallFirst}, {@code small - big}, small repeated along the
   * middle of {@code [outer, size, inner]}.
   */
  public static void subRepeatedForward(float[] out, int outOff, float[] big, int bigOff, float[] small, int smallOff,
      int outer, int size, int inner, boolean smallFirst) {
    Parallel.forRange(outer * size, 2L * outer * size * inner, (part, from, to) -> {
      for (int q = from; q < to; q++) {
        int at = q * inner, sAt = smallOff + q / size * inner;
        if (smallFirst) {
          for (int i = 0; i < inner; i++) {
            out[outOff + at + i] = small[sAt + i] - big[bigOff + at + i];
          }
        } else {
          for (int i = 0; i < inner; i++) {
            out[outOff + at + i] = big[bigOff + at + i] - small[sAt + i];
          }
        }
      }
    });
  }

  /** {@code out = a / b} over {@code n} values: a true quotient, as PyTorch's. */
  public static void divForward(float[] out, int outOff, float[] a, int aOff, float[] b, int bOff, int n) {
    Parallel.forRange(n, 2L * n, (part, from, to) -> {
      if (outOff == aOff && aOff == bOff) { // one index, vectorised (CpuKernels.accumulate says why)
        for (int i = outOff + from; i < outOff + to; i++) {
          out[i] = a[i] / b[i];
        }
        return;
      }
      for (int i = from; i < to; i++) {
        out[outOff + i] = a[aOff + i] / b[bOff + i];
      }
    });
  }

  /** {@code out = big / small} or, {@code smallFirst}, {@code small / big}, shaped as {@link #subRepeatedForward}'s. */
  public static void divRepeatedForward(float[] out, int outOff, float[] big, int bigOff, float[] small, int smallOff,
      int outer, int size, int inner, boolean smallFirst) {
    Parallel.forRange(outer * size, 2L * outer * size * inner, (part, from, to) -> {
      for (int q = from; q < to; q++) {
        int at = q * inner, sAt = smallOff + q / size * inner;
        if (smallFirst) {
          for (int i = 0; i < inner; i++) {
            out[outOff + at + i] = small[sAt + i] / big[bigOff + at + i];
          }
        } else {
          for (int i = 0; i < inner; i++) {
            out[outOff + at + i] = big[bigOff + at + i] / small[sAt + i];
          }
        }
      }
    });
  }

  /** {@code out = x + c} over {@code n} values: {@code x.add(c)}, {@code x.sub(c)} as {@code x + (-c)}. */
  public static void shift(float[] out, int outOff, float[] x, int xOff, int n, float c) {
    Parallel.forRange(n, 2L * n, (part, from, to) -> {
      if (outOff == xOff) { // one index, vectorised (CpuKernels.accumulate says why)
        for (int i = outOff + from; i < outOff + to; i++) {
          out[i] = x[i] + c;
        }
        return;
      }
      for (int i = from; i < to; i++) {
        out[outOff + i] = x[xOff + i] + c;
      }
    });
  }

  /** The gradient a sub sends to its right operand, of the left's shape: {@code dst (+)= -d} over {@code n} values. */
  public static void subtrahendBackward(float[] dst, int dstOff, float[] d, int dOff, int n, boolean accumulate) {
    CpuKernels.scale(dst, dstOff, d, dOff, n, -1f, accumulate); // (-1 * d is -d exactly)
  }

  /**
   * The gradient a division {@code y = a / b} sends to its numerator {@code a}: {@code dst (+)= d / b}
   * over {@code n} values (a and b of one shape).
   */
  public static void numeratorBackward(float[] dst, int dstOff, float[] d, int dOff, float[] b, int bOff, int n,
      boolean accumulate) {
    if (dst == null) {
      return;
    }
    Parallel.forRange(n, 3L * n, (part, from, to) -> {
      for (int i = from; i < to; i++) {
        float v = d[dOff + i] / b[bOff + i];
        dst[dstOff + i] = accumulate ? dst[dstOff + i] + v : v;
      }
    });
  }

  /**
   * The gradient a division {@code y = a / b} sends to its numerator {@code a} of the big shape when the
   * denominator {@code b} repeats: {@code dst (+)= d / b}, b repeated along the middle of
   * {@code [outer, size, inner]} (dividing by a gate {@code [N, 1, H, W]}).
   */
  public static void numeratorRepeatedBackward(float[] dst, int dstOff, float[] d, int dOff, float[] b, int bOff,
      int outer, int size, int inner, boolean accumulate) {
    if (dst == null) {
      return;
    }
    Parallel.forRange(outer * size, 3L * outer * size * inner, (part, from, to) -> {
      for (int q = from; q < to; q++) {
        int at = q * inner, bAt = bOff + q / size * inner;
        for (int i = 0; i < inner; i++) {
          float v = d[dOff + at + i] / b[bAt + i];
          dst[dstOff + at + i] = accumulate ? dst[dstOff + at + i] + v : v;
        }
      }
    });
  }

  /**
   * The gradient a division {@code y = a / b} sends to its denominator {@code b} of the big shape (the
   * quotient's): {@code dst (+)= -d * (y / b)} over {@code n} values, {@code y} the forward's quotient.
   */
  public static void denominatorBackward(float[] dst, int dstOff, float[] d, int dOff, float[] y, int yOff, float[] b,
      int bOff, int n, boolean accumulate) {
    if (dst == null) {
      return;
    }
    Parallel.forRange(n, 4L * n, (part, from, to) -> {
      for (int i = from; i < to; i++) {
        float v = -d[dOff + i] * (y[yOff + i] / b[bOff + i]);
        dst[dstOff + i] = accumulate ? dst[dstOff + i] + v : v;
      }
    });
  }

  /**
   * The gradient a sub sends to its repeated right operand: {@code dst[o, i] (+)= -sum over r of
   * d[o, r, i]} (the left's, {@link CpuKernels#sumRepeatedBackward}, unsigned).
   */
  public static void subtrahendSumBackward(float[] dst, int dstOff, float[] d, int dOff, int outer, int size, int inner,
      boolean accumulate) {
    sumRepeated(dst, dstOff, SUBTRAHEND, d, dOff, null, 0, null, 0, outer, size, inner, accumulate);
  }

  /**
   * The gradient a division sends to its repeated numerator {@code a} ({@code a / b}, b of the big
   * shape): {@code dst[o, i] (+)= sum over r of d[o, r, i] / b[o, r, i]}.
   */
  public static void numeratorSumBackward(float[] dst, int dstOff, float[] d, int dOff, float[] b, int bOff,
      int outer, int size, int inner, boolean accumulate) {
    sumRepeated(dst, dstOff, NUMERATOR, d, dOff, null, 0, b, bOff, outer, size, inner, accumulate);
  }

  /**
   * The gradient a division {@code y = a / b} sends to its repeated denominator {@code b}:
   * {@code dst[o, i] (+)= sum over r of -d[o, r, i] * (y[o, r, i] / b[o, i])}.
   */
  public static void denominatorSumBackward(float[] dst, int dstOff, float[] d, int dOff, float[] y, int yOff, float[] b,
      int bOff, int outer, int size, int inner, boolean accumulate) {
    sumRepeated(dst, dstOff, DENOMINATOR, d, dOff, y, yOff, b, bOff, outer, size, inner, accumulate);
  }

  /** The kinds of {@link #term}: a sub's right operand, a division's numerator, its denominator. */
  private static final int SUBTRAHEND = 0, NUMERATOR = 1, DENOMINATOR = 2;

  /**
   * One term of a repeated operand's gradient: {@code r} indexes the big shape, {@code s} the small
   * one. A static switch on a loop-invariant kind, not a lambda: the JIT unswitches it into one loop
   * per kind (a lambda per kind made the shared loop's call megamorphic, 10x slower).
   */
  private static float term(int kind, float[] d, int dOff, float[] y, int yOff, float[] b, int bOff, int r, int s) {
    switch (kind) {
      case SUBTRAHEND:
        return -d[dOff + r];
      case NUMERATOR:
        return d[dOff + r] / b[bOff + r];
      default:
        return -d[dOff + r] * (y[yOff + r] / b[bOff + s]);
    }
  }

  /**
   * {@code dst[o, i] (+)= sum over r of term(o, r, i)}, summed in double in the order of r, split over
   * the cores by the small operand's values (each sum is one part's: the result does not depend on the
   * split). Nothing when {@code dst} is null.
   */
  private static void sumRepeated(float[] dst, int dstOff, int kind, float[] d, int dOff, float[] y, int yOff,
      float[] b, int bOff, int outer, int size, int inner, boolean accumulate) {
    if (dst == null) {
      return;
    }
    Parallel.forRange(outer * inner, 3L * outer * size * inner, (part, from, to) -> {
      if (inner == 1) { // a gate [N, C, 1, 1]: one running sum per value, no array of sums
        for (int o = from; o < to; o++) {
          double sum = 0;
          for (int r = o * size; r < (o + 1) * size; r++) {
            sum += term(kind, d, dOff, y, yOff, b, bOff, r, o);
          }
          dst[dstOff + o] = accumulate ? dst[dstOff + o] + (float) sum : (float) sum;
        }
        return;
      }
      double[] sums = new double[inner];
      for (int q = from; q < to; ) {
        int o = q / inner, i0 = q % inner, i1 = Math.min(inner, i0 + (to - q));
        java.util.Arrays.fill(sums, i0, i1, 0);
        for (int r = 0; r < size; r++) {
          int at = (o * size + r) * inner;
          for (int i = i0; i < i1; i++) {
            sums[i] += term(kind, d, dOff, y, yOff, b, bOff, at + i, o * inner + i);
          }
        }
        for (int i = i0; i < i1; i++) {
          int at = dstOff + o * inner + i;
          dst[at] = accumulate ? dst[at] + (float) sums[i] : (float) sums[i];
        }
        q += i1 - i0;
      }
    });
  }

}
