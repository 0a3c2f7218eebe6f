package dev.kiln.processor.ir;

import dev.kiln.dsl.LayerSpec;

/**
 * {@code F.add(a, b)} of two values of one shape in a compiled forward (a residual connection):
 * the result has their shape. Eager {@code F.add} also broadcasts a {@code b} of {@code a}'s
 * trailing dimensions; a compiled add takes equal shapes only, which {@code ShapeChecker} checks.
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
