package dev.kiln.dsl;

/**
 * PyTorch's {@code nn.ReplicationPad1d}: {@code F.pad(x, pad, mode="replicate")} over
 * the last dimension of [C, W] or [N, C, W], the edge value repeated
 * (see {@link Padding}); eager or compiled.
 */
public class ReplicationPad1d extends Padding {
  /** The same count on every side. */
  public ReplicationPad1d(int padding) {
    super("ReplicationPad1d", "replicate", padding, padding);
  }

  /** (left, right). */
  public ReplicationPad1d(int left, int right) {
    super("ReplicationPad1d", "replicate", left, right);
  }
}
