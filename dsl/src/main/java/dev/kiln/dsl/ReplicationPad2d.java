package dev.kiln.dsl;

/**
 * PyTorch's {@code nn.ReplicationPad2d}: {@code F.pad(x, pad, mode="replicate")} over
 * the last two dimensions of [C, H, W] or [N, C, H, W], the edge values repeated
 * (see {@link Padding}); eager or compiled.
 */
public class ReplicationPad2d extends Padding {
  /** The same count on every side. */
  public ReplicationPad2d(int padding) {
    super("ReplicationPad2d", "replicate", padding, padding, padding, padding);
  }

  /** (left, right, top, bottom), PyTorch's 4-tuple. */
  public ReplicationPad2d(int left, int right, int top, int bottom) {
    super("ReplicationPad2d", "replicate", left, right, top, bottom);
  }
}
