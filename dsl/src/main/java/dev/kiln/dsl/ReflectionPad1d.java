package dev.kiln.dsl;

/**
 * PyTorch's {@code nn.ReflectionPad1d}: {@code F.pad(x, pad, mode="reflect")} over
 * the last dimension of [C, W] or [N, C, W], each side mirrored about its edge value
 * (see {@link Padding}); eager or compiled.
 */
public class ReflectionPad1d extends Padding {
  /** The same count on every side. */
  public ReflectionPad1d(int padding) {
    super("ReflectionPad1d", "reflect", padding, padding);
  }

  /** (left, right). */
  public ReflectionPad1d(int left, int right) {
    super("ReflectionPad1d", "reflect", left, right);
  }
}
