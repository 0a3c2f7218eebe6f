package dev.kiln.runtime.io;

import dev.kiln.runtime.DType;
import dev.kiln.runtime.Shapes;
import dev.kiln.runtime.Tensor;
import java.util.Arrays;
import java.util.Map;

/**
 * How training state that is not a float32 array is kept in a state dict, so that it survives a
 * safetensors file exactly. Kiln's tensors hold float32 values, and its integer tensors are exact
 * only within ±2^24, so:
 *
 * <ul>
 *   <li>a small count (an epoch) is a rank-0 {@link DType#INT32} tensor ({@link #ofInt});
 *   <li>a 64-bit value (a generator's state, a step count, a {@code double} learning rate by its
 *       IEEE bits) is an {@link DType#INT32} tensor of shape {@code [4]} holding its four 16-bit
 *       quarters, most significant first, each in {@code [0, 65535]} ({@link #ofLong}, {@link
 *       #ofDouble}).
 * </ul>
 *
 * The readers take the state dict and the key, and throw an {@link IllegalArgumentException}
 * naming the key when it is missing or holds something else; callers that read a file add its
 * name.
 */
public final class StateEncoding {
  private static final int QUARTERS = 4;

  private StateEncoding() {}

  /** {@code value} as a rank-0 int32 tensor; it must lie within ±2^24. */
  public static Tensor ofInt(int value) {
    if (Math.abs((long) value) > DType.MAX_EXACT_INT) {
      throw new IllegalArgumentException(value + " is outside +-2^24, where int32 tensors are exact; use ofLong");
    }
    return Tensor.wrap(new float[] {value}, DType.INT32);
  }

  /** The value of a rank-0 int32 tensor written by {@link #ofInt}. */
  public static int toInt(Map<String, Tensor> state, String key) {
    Tensor t = require(state, key, DType.INT32, new int[0]);
    float v = t.item();
    if (v != Math.rint(v)) {
      throw new IllegalArgumentException(key + " holds " + v + ", not a whole number");
    }
    return (int) v;
  }

  /** {@code value} exactly, as four 16-bit quarters in an int32 tensor of shape {@code [4]}. */
  public static Tensor ofLong(long value) {
    float[] quarters = new float[QUARTERS];
    for (int i = 0; i < QUARTERS; i++) {
      quarters[i] = (value >>> (16 * (QUARTERS - 1 - i))) & 0xFFFF;
    }
    return Tensor.wrap(quarters, DType.INT32, QUARTERS);
  }

  /** The value written by {@link #ofLong}. */
  public static long toLong(Map<String, Tensor> state, String key) {
    float[] quarters = require(state, key, DType.INT32, new int[] {QUARTERS}).toFloatArray();
    long value = 0;
    for (float q : quarters) {
      if (!(q >= 0 && q <= 0xFFFF && q == Math.rint(q))) {
        throw new IllegalArgumentException(key + " holds " + Arrays.toString(quarters)
            + ", not four 16-bit quarters of a 64-bit value");
      }
      value = (value << 16) | (long) q;
    }
    return value;
  }

  /** {@code value} exactly, by its IEEE 754 bits (see {@link #ofLong}). */
  public static Tensor ofDouble(double value) {
    return ofLong(Double.doubleToRawLongBits(value));
  }

  /** The value written by {@link #ofDouble}. */
  public static double toDouble(Map<String, Tensor> state, String key) {
    return Double.longBitsToDouble(toLong(state, key));
  }

  /**
   * {@code state.get(key)}, checked to be present and of the given type and shape.
   *
   * @throws IllegalArgumentException naming the key otherwise
   */
  public static Tensor require(Map<String, Tensor> state, String key, DType dtype, int[] shape) {
    Tensor t = state.get(key);
    if (t == null) {
      throw new IllegalArgumentException("missing " + key);
    }
    if (t.dtype() != dtype || !Arrays.equals(t.shape(), shape)) {
      throw new IllegalArgumentException(key + " is a " + t.dtype() + " tensor of shape " + Shapes.toString(t.shape())
          + ", expected " + dtype + " of shape " + Shapes.toString(shape));
    }
    return t;
  }
}
