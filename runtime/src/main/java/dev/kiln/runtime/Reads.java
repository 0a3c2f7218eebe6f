package dev.kiln.runtime;

/**
 * What an element-wise operation's backward reads besides the incoming gradient, for its node's
 * {@link Node#savesTensors()}, {@link Node#savesInputs()} and {@link Node#savesOutput()}: one rule
 * for {@link Ops} and {@link CudaOps}.
 */
enum Reads {
  /** Its input: {@code log}, {@code abs}, {@code pow}, {@code leaky_relu}. */
  INPUT,
  /** Its output: {@code exp}, {@code sqrt}, {@code sigmoid}, {@code tanh}, softmax. */
  OUTPUT,
  /** A mask drawn by the forward: dropout. */
  OWN,
  /** Nothing: {@code neg}. */
  NOTHING
}
