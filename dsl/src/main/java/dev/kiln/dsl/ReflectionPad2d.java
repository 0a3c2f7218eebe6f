package dev.kiln.dsl;

/**
 * PyTorch's {@code nn.ReflectionPad2d}: {@code F.pad(x, pad, mode="reflect")} over
 * the last two dimensions of [C, H, W] or [N, C, H, W], each side mirrored about its edge values
 * (see {@link Padding}); eager or compiled.
 */
public class ReflectionPad2d extends Padding {
  /** The same count on every side. */
  public ReflectionPad2d(int padding) {
    super("ReflectionPad2d", "reflect", padding, padding, padding, padding);
  }

  /** (left, right, top, bottom), PyTorch's 4-tuple. */
  public ReflectionPad2d(int left, int right, int top, int bottom) {
    super("ReflectionPad2d", "reflect", left, right, top, bottom);
  }
}
