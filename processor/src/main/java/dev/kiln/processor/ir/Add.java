package dev.kiln.processor.ir;

import dev.kiln.dsl.LayerSpec;

/**
 * {@code F.add(a, b)} in a compiled forward (a residual connection): two values of one shape, or one whose sizes
 * of 1 stretch over the other's as PyTorch broadcasts them ({@link Repeat}); the result has the
 * bigger one's shape, which {@code ShapeChecker} works out and checks.
 */
public record Add() implements LayerSpec {
  @Override
  public int[] outputShape(int[] inputShape) {
    return inputShape.clone();
  }

  @Override
  public String toString() {
    return "add";
  }
}
