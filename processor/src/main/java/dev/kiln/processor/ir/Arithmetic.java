package dev.kiln.processor.ir;

import dev.kiln.dsl.LayerSpec;

/**
 * An element-wise operation of two values in a compiled forward ({@link Add}, {@link Sub},
 * {@link Mul}, {@link Div}): two values of one shape, or one whose sizes of 1 stretch over the
 * other's as PyTorch broadcasts them ({@link Repeat}), or a tensor field repeated over the batch; the
 * result has the bigger one's shape, which {@code ShapeChecker} works out and checks.
 */
public sealed interface Arithmetic extends LayerSpec permits Add, Sub, Mul, Div {
  /** The operator between the shapes in a step's comment: {@code [N, 6, 8] - [1, 6, 8]}. */
  String symbol();

  /** Whether {@code a op b} is {@code b op a}: the planner may then read the operands in either order. */
  default boolean commutes() {
    return symbol().equals("+") || symbol().equals("*");
  }

  @Override
  default int[] outputShape(int[] inputShape) {
    return inputShape.clone();
  }
}
