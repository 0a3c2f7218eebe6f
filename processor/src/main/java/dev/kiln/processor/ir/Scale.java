package dev.kiln.processor.ir;

import dev.kiln.dsl.LayerSpec;

/**
 * {@code F.mul(x, c)}, {@code x.mul(c)} or {@code x.div(c)} of a constant in a compiled forward:
 * every value times {@code factor}, the float eager mode multiplies by ({@code (float) c}, or
 * {@code 1f / (float) c} for a division).
 *
 * @param written the call's operator and constant as written, for messages: {@code mul(0.125)}, {@code div(8.0)}
 */
public record Scale(float factor, String written) implements LayerSpec {
  /** {@code x * c}. */
  public static Scale times(double c) {
    return new Scale((float) c, "mul(" + c + ")");
  }

  /** {@code x / c}, as eager mode computes it: {@code x * (1f / (float) c)}. */
  public static Scale dividedBy(double c) {
    return new Scale(1f / (float) c, "div(" + c + ")");
  }

  public Scale {
    if (!Float.isFinite(factor)) {
      throw new IllegalArgumentException(written + " scales by " + factor + ": the factor must be a finite float");
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
