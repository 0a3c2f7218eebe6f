package dev.kiln.processor.ir;

/**
 * {@code F.sub(a, b)} ({@code a.sub(b)}) in a compiled forward: a centred value, {@code h.sub(h.mean(1, true))};
 * see {@link Arithmetic} for the shapes it takes. Backward: the gradient to {@code a}, its negation to {@code b}.
 */
public record Sub() implements Arithmetic {
  @Override
  public String symbol() {
    return "-";
  }

  @Override
  public String toString() {
    return "sub";
  }
}
