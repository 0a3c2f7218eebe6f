package dev.kiln.processor.ir;

import dev.kiln.dsl.LayerSpec;

/**
 * {@code F.mul(a, b)} of two values of one shape in a compiled forward (a gate: {@code mul(h,
 * sigmoid(g))}): the result has their shape. Eager {@code F.mul} also broadcasts a {@code b} of
 * {@code a}'s trailing dimensions; a compiled mul takes equal shapes only, as {@link Add}.
 */
public record Mul() implements LayerSpec {
  @Override
  public int[] outputShape(int[] inputShape) {
    return inputShape.clone();
  }

  @Override
  public String toString() {
    return "mul";
  }
}
