package dev.kiln.dsl;

/** How a loss combines per-sample values, as PyTorch's {@code reduction=} argument. */
public enum Reduction {
  /** Average over the batch (the default). */
  MEAN,
  /** Sum over the batch. */
  SUM,
  /** One value per sample. */
  NONE
}
