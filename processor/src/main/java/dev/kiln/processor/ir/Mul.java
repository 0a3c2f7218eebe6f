package dev.kiln.processor.ir;

import dev.kiln.dsl.LayerSpec;

/**
 * {@code F.mul(a, b)} in a compiled forward (a gate, {@code mul(h, sigmoid(g))}, or a channel
 * scale): two values of one shape, or one whose sizes of 1 stretch over the other's as PyTorch
 * broadcasts them ({@link Repeat}); the result has the bigger one's shape, which
 * {@code ShapeChecker} works out and checks.
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
