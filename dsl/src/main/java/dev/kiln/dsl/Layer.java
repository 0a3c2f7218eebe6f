package dev.kiln.dsl;

/**
 * A layer described by a {@link LayerSpec}: its shape rule and its PyTorch-style repr come from
 * the spec, the one place where they are written (the annotation processor calls the same spec).
 *
 * @param <S> the layer's {@code Spec} record
 */
public abstract class Layer<S extends LayerSpec> extends Module {
  private S spec;
  private boolean applied;

  protected Layer(S spec) {
    this.spec = spec;
  }

  /** The hyper-parameters. */
  public S spec() {
    return spec;
  }

  /** Replaces the hyper-parameters, for builder-style configuration such as {@code padding(1)}. */
  protected final void spec(S next) {
    spec = next;
  }

  /**
   * Replaces hyper-parameters that the parameters or their shapes follow (a bias dropped, a kernel
   * stride changed): refused once the layer has been applied, when its parameters may already be
   * in an optimizer and its output in a graph.
   *
   * @param settings the builder calls, for the message, e.g. {@code "stride, padding and bias"}
   * @throws IllegalStateException after {@link #markApplied()}
   */
  protected final void reconfigure(S next, String settings) {
    if (applied) {
      throw new IllegalStateException(spec + ": set " + settings + " before the first forward");
    }
    spec = next;
  }

  /** Called by {@code forward}: from now on {@link #reconfigure} refuses. */
  protected final void markApplied() {
    applied = true;
  }

  @Override
  public int[] outputShape(int[] inputShape) {
    return spec.outputShape(inputShape);
  }

  @Override
  public String toString() {
    return spec.toString();
  }
}
