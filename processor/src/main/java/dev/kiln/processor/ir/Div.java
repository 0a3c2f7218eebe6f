package dev.kiln.processor.ir;

/**
 * {@code F.div(a, b)} ({@code a.div(b)}) of two values in a compiled forward: dividing by a gate or a norm; see
 * {@link Arithmetic} for the shapes it takes. A true quotient, as PyTorch's; backward {@code g / b} to {@code a}
 * and {@code -g * (a / b) / b} to {@code b} (a division by a constant is a {@link Scale}).
 */
public record Div() implements Arithmetic {
  @Override
  public String symbol() {
    return "/";
  }

  @Override
  public String toString() {
    return "div";
  }
}
