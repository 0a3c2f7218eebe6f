package dev.kiln.processor.ir;

import dev.kiln.dsl.LayerSpec;

/**
 * {@code x.add(c)} or {@code x.sub(c)} of a constant in a compiled forward: every value plus
 * {@code amount}, the float eager mode adds ({@code (float) c}, or {@code -(float) c} for a subtraction).
 * Backward: the gradient as it is.
 *
 * @param written the call's operator and constant as written, for messages: {@code add(0.5)}, {@code sub(1.0)}
 */
public record Shift(float amount, String written) implements LayerSpec {
  /** {@code x + c}. */
  public static Shift plus(double c) {
    return new Shift((float) c, "add(" + c + ")");
  }

  /** {@code x - c}, as eager mode computes it: {@code x + (-(float) c)}. */
  public static Shift minus(double c) {
    return new Shift(-(float) c, "sub(" + c + ")");
  }

  public Shift {
    if (!Float.isFinite(amount)) {
      throw new IllegalArgumentException(written + " shifts by " + amount + ": the constant must be a finite float");
    }
  }

  @Override
  public int[] outputShape(int[] inputShape) {
    return inputShape.clone();
  }

  @Override
  public String toString() {
    return written;
  }
}
