package dev.kiln.dsl;

/**
 * PyTorch's {@code nn.ZeroPad2d}: {@code F.pad(x, pad, mode="constant")} over
 * the last two dimensions of [C, H, W] or [N, C, H, W] with zeros
 * (see {@link Padding}); eager or compiled.
 */
public class ZeroPad2d extends Padding {
  /** The same count on every side. */
  public ZeroPad2d(int padding) {
    super("ZeroPad2d", "constant", padding, padding, padding, padding);
  }

  /** (left, right, top, bottom), PyTorch's 4-tuple. */
  public ZeroPad2d(int left, int right, int top, int bottom) {
    super("ZeroPad2d", "constant", left, right, top, bottom);
  }
}
