package dev.kiln.runtime.cpu;

/**
 * Which values of a mask select the positions a masked fill writes ({@link CpuKernels#maskedFillForward}):
 * PyTorch's boolean mask itself ({@code x.masked_fill(mask, v)}: every nonzero value), or the mask
 * compared with a constant as the test is written ({@code x.masked_fill(mask == 0, v)}, Kiln's
 * {@code x.maskedFill(mask.eq(0), v)}), so that a compiled model reads its buffer as it is, with no
 * second mask to keep.
 */
public enum MaskTest {
  /** {@code mask != 0}: the mask as given. */
  NONZERO,
  /** {@code mask.eq(c)}. */
  EQ,
  /** {@code mask.ne(c)}. */
  NE,
  /** {@code mask.lt(c)}. */
  LT,
  /** {@code mask.le(c)}. */
  LE,
  /** {@code mask.gt(c)}. */
  GT,
  /** {@code mask.ge(c)}. */
  GE,
  /** {@code a.logicalAnd(b)}: both nonzero (NaN counting as true), as {@code PointwiseKernels.Binary.LOGICAL_AND}. */
  AND,
  /** {@code a.logicalOr(b)}: either nonzero. */
  OR,
  /** {@code a.logicalXor(b)}: exactly one nonzero. */
  XOR;

  /**
   * Whether mask value {@code m} selects its position (the constant {@code c} unused for {@link #NONZERO}), as eager's
   * comparisons; for the logical ops {@code c} is the other operand's value.
   */
  public boolean selects(float m, float c) {
    return switch (this) {
      case NONZERO -> m != 0;
      case EQ -> m == c;
      case NE -> m != c;
      case LT -> m < c;
      case LE -> m <= c;
      case GT -> m > c;
      case GE -> m >= c;
      case AND -> m != 0 && c != 0;
      case OR -> m != 0 || c != 0;
      case XOR -> (m != 0) != (c != 0);
    };
  }

  /**
   * {@code out[i] = selects(m[i], c) ? 1 : 0} for {@code count} values: the comparison as eager mode's {@code m.ne(c)}
   * gives it, a 0/1 float value (a compiled model's mask used as a value: {@code h.mul(ids.ne(0).unsqueeze(-1))}).
   */
  public void select(float[] out, int outOff, float[] m, int mOff, int count, float c) {
    for (int i = 0; i < count; i++) {
      out[outOff + i] = selects(m[mOff + i], c) ? 1f : 0f;
    }
  }

  /**
   * {@code out = big test small} or, {@code smallFirst}, {@code small test big}, as 0/1 floats, small repeated along the
   * middle of {@code [outer, size, inner]} (size 1: one shape): eager mode's {@code x.lt(y)} of two values, broadcast
   * ({@code Ops.compare}). Not for {@link #NONZERO}, which compares with nothing.
   */
  public void selectRepeated(float[] out, int outOff, float[] big, int bigOff, float[] small, int smallOff, int outer, int size,
      int inner, boolean smallFirst) {
    if (this == NONZERO) {
      throw new IllegalArgumentException("NONZERO compares one value, not two");
    }
    for (int q = 0; q < outer * size; q++) {
      int at = q * inner, sAt = smallOff + q / size * inner;
      for (int i = 0; i < inner; i++) {
        float b = big[bigOff + at + i], s = small[sAt + i];
        out[outOff + at + i] = (smallFirst ? selects(s, b) : selects(b, s)) ? 1f : 0f;
      }
    }
  }
}
