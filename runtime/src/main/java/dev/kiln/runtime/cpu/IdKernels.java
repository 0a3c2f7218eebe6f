package dev.kiln.runtime.cpu;

/**
 * Integer arithmetic on ids ({@code DType.INT32} tensors, whose values are whole floats exact up to 2^24): PyTorch's
 * {@code ids + 1}, {@code ids * stride}, {@code ids // 2}, {@code ids % vocab}, {@code ids.clamp(min=0)}, {@code
 * -ids}, {@code ids.abs()}. Each value is computed in 64 bits from the operands and checked: a result past 2^24 in
 * magnitude, which the float storage would round, and a division by zero (PyTorch's {@code ZeroDivisionError}) are
 * errors that name the op, the value and where it is. Eager mode ({@code Ops}) and compiled models (an {@code
 * Embedding} over ids shifted in forward) run these same loops, so their results and messages agree.
 */
public final class IdKernels {
  private IdKernels() {}

  /** The largest magnitude an id holds exactly (the runtime's {@code DType.MAX_EXACT_INT}). */
  public static final long MAX_EXACT = 1 << 24;

  /** An operation on two ids, or on an id and a constant ({@link #NEG} and {@link #ABS} ignore the second operand). */
  public enum Op {
    ADD("add"),
    SUB("sub"),
    MUL("mul"),
    /** PyTorch's {@code a // b}: the quotient rounded toward minus infinity. */
    FLOOR_DIVIDE("floor_divide"),
    /** PyTorch's {@code a % b}: the remainder with the divisor's sign ({@code a - b * (a // b)}). */
    REMAINDER("remainder"),
    /** {@code max(a, b)}: {@code clamp(min=b)}, {@code torch.maximum}. */
    MAX("clamp_min"),
    /** {@code min(a, b)}: {@code clamp(max=b)}, {@code torch.minimum}. */
    MIN("clamp_max"),
    NEG("neg"),
    ABS("abs");

    private final String torchName;

    Op(String torchName) {
      this.torchName = torchName;
    }

    /** The name errors give, PyTorch's: {@code floor_divide}, {@code remainder}, {@code clamp_min}. */
    public String torchName() {
      return torchName;
    }

    /** Whether it reads a second operand. */
    public boolean binary() {
      return this != NEG && this != ABS;
    }

    /**
     * {@code a op b}, unchecked.
     *
     * @throws ArithmeticException for a division or remainder by zero
     */
    public long apply(long a, long b) {
      return switch (this) {
        case ADD -> a + b;
        case SUB -> a - b;
        case MUL -> a * b;
        case FLOOR_DIVIDE -> Math.floorDiv(a, b);
        case REMAINDER -> Math.floorMod(a, b);
        case MAX -> Math.max(a, b);
        case MIN -> Math.min(a, b);
        case NEG -> -a;
        case ABS -> Math.abs(a);
      };
    }
  }

  /**
   * {@code out[i] = in[i] op c} for {@code n} ids (then {@code min(., c2)} for a clamp of two bounds: {@code op} {@link
   * Op#MAX} and {@code c2} other than {@link Long#MAX_VALUE}).
   *
   * @throws IllegalArgumentException naming the op for a division by zero, or a result past 2^24 in magnitude
   */
  public static void withConstant(Op op, long c, long c2, float[] out, int outOff, float[] in, int inOff, int n) {
    requireDivisor(op, c);
    for (int i = 0; i < n; i++) {
      long v = op.apply((long) in[inOff + i], c);
      out[outOff + i] = exact(op, c2 == Long.MAX_VALUE ? v : Math.min(v, c2), i);
    }
  }

  /**
   * {@code out[i] = in[i] op values[i % values.length]} for {@code n} ids ({@code values[...] op in[i]} when {@code
   * valuesFirst}): ids with constant ids that repeat over their leading dimensions, {@code ids.mul(2).add(pos)} of
   * positions {@code [S]} over ids {@code [N, S]}, as {@link #broadcast} computes it.
   *
   * @throws IllegalArgumentException as {@link #broadcast}'s, at the same positions
   */
  public static void withValues(Op op, int[] values, boolean valuesFirst, float[] out, int outOff, float[] in, int inOff, int n) {
    for (int i = 0; i < n; i++) {
      int at = i % values.length;
      long x = (long) in[inOff + i], v = values[at];
      long b = valuesFirst ? x : v;
      if (b == 0 && divides(op)) {
        throw new IllegalArgumentException(op.torchName() + ": integer division by zero (the divisor at flat position "
            + (valuesFirst ? i : at) + " is 0)");
      }
      out[outOff + i] = exact(op, valuesFirst ? op.apply(v, x) : op.apply(x, v), i);
    }
  }

  /**
   * {@code out[i] = a[aIndex[i]] op b[bIndex[i]]} for each element of a broadcast result ({@code aIndex} and {@code
   * bIndex} the flat positions each operand gives).
   *
   * @throws IllegalArgumentException naming the op for a division by zero (and the divisor's position), or a result
   *     past 2^24 in magnitude
   */
  public static void broadcast(Op op, float[] out, float[] a, int aOff, int[] aIndex, float[] b, int bOff, int[] bIndex) {
    for (int i = 0; i < out.length; i++) {
      out[i] = ofPair(op, a[aOff + aIndex[i]], b[bOff + bIndex[i]], i, bIndex[i]);
    }
  }

  /**
   * {@code out[s * per + j] = a[s * aPer + aAt[j]] op b[s * bPer + bAt[j]]} for {@code n} samples of {@code per} ids each:
   * two values of a batch, each sample's broadcast to the result's ({@code aAt}, {@code bAt} each result position's place
   * in that operand's sample; null where it is the position itself). The flat positions are those of {@link #broadcast}
   * over the whole batch, so the values and the errors are eager mode's. For compiled models ({@code ids.add(other)}).
   *
   * @throws IllegalArgumentException as {@link #broadcast}'s, at the same positions
   */
  public static void ofSamples(Op op, float[] out, int outOff, float[] a, int aOff, int[] aAt, int aPer, float[] b, int bOff,
      int[] bAt, int bPer, int per, int n) {
    for (int s = 0, i = 0; s < n; s++) {
      for (int j = 0; j < per; j++, i++) {
        int ai = s * aPer + (aAt == null ? j : aAt[j]), bi = s * bPer + (bAt == null ? j : bAt[j]);
        out[outOff + i] = ofPair(op, a[aOff + ai], b[bOff + bi], i, bi);
      }
    }
  }

  /** {@code a op b} checked, the result at flat position {@code at} and the divisor at {@code divisorAt} (for messages). */
  private static float ofPair(Op op, float a, float b, int at, int divisorAt) {
    long bv = (long) b;
    if (bv == 0 && divides(op)) {
      throw new IllegalArgumentException(op.torchName() + ": integer division by zero (the divisor at flat position " + divisorAt
          + " is 0)");
    }
    return exact(op, op.apply((long) a, bv), at);
  }

  private static boolean divides(Op op) {
    return op == Op.FLOOR_DIVIDE || op == Op.REMAINDER;
  }

  /** @throws IllegalArgumentException for a division or remainder by the constant 0 */
  public static void requireDivisor(Op op, long c) {
    if (c == 0 && divides(op)) {
      throw new IllegalArgumentException(op.torchName() + ": integer division by zero");
    }
  }

  private static float exact(Op op, long v, int at) {
    return exact(op.torchName(), v, at);
  }

  private static float exact(String op, long v, int at) {
    if (Math.abs(v) > MAX_EXACT) {
      throw new IllegalArgumentException(op + ": the result " + v + " at flat position " + at + " is out of the range"
          + " ids hold exactly (|id| <= 2^24 = " + MAX_EXACT + ", Kiln stores int32 values as floats)");
    }
    return v;
  }

  /**
   * The sums of ids {@code in} of {@code shape} over the dimensions {@code reduced} marks, into {@code out} (the kept
   * dimensions in order): PyTorch's {@code ids.sum(dims)} of an int64 tensor, each sum computed in 64 bits.
   *
   * @throws IllegalArgumentException naming {@code sum} for a sum past 2^24 in magnitude (and its flat position in out)
   */
  public static void sumOver(float[] out, float[] in, int inOff, int[] shape, boolean[] reduced) {
    int rank = shape.length;
    int[] stride = new int[rank]; // each dimension's stride in out, 0 where it is summed
    for (int d = rank - 1, s = 1; d >= 0; d--) {
      stride[d] = reduced[d] ? 0 : s;
      s *= reduced[d] ? 1 : shape[d];
    }
    long[] sums = new long[out.length];
    int[] pos = new int[rank];
    int n = 1;
    for (int size : shape) {
      n *= size;
    }
    for (int i = 0, at = 0; i < n; i++) {
      sums[at] += (long) in[inOff + i];
      for (int d = rank - 1; d >= 0; d--) { // the next position, row-major; at follows it
        at += stride[d];
        if (++pos[d] < shape[d]) {
          break;
        }
        at -= stride[d] * pos[d];
        pos[d] = 0;
      }
    }
    for (int j = 0; j < sums.length; j++) {
      out[j] = exact("sum", sums[j], j);
    }
  }
}
