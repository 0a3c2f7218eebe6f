package dev.kiln.processor.ir;

/**
 * {@code F.mul(a, b)} ({@code a.mul(b)}) in a compiled forward: a gate, {@code mul(h, sigmoid(g))}, or a
 * channel scale; see {@link Arithmetic} for the shapes it takes.
 */
public record Mul() implements Arithmetic {
  @Override
  public String symbol() {
    return "*";
  }

  @Override
  public String toString() {
    return "mul";
  }
}
