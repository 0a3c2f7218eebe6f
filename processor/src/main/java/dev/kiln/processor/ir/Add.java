package dev.kiln.processor.ir;

/**
 * {@code F.add(a, b)} ({@code a.add(b)}) in a compiled forward, a residual connection: see {@link Arithmetic}
 * for the shapes it takes.
 */
public record Add() implements Arithmetic {
  @Override
  public String symbol() {
    return "+";
  }

  @Override
  public String toString() {
    return "add";
  }
}
