package dev.kiln.dsl;

/**
 * A layer described by a {@link LayerSpec}: its shape rule and its PyTorch-style repr come from
 * the spec, the one place where they are written (the annotation processor calls the same spec).
 *
 * @param <S> the layer's {@code Spec} record
 */
public abstract class Layer<S extends LayerSpec> extends Module {
  private S spec;

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

  @Override
  public int[] outputShape(int[] inputShape) {
    return spec.outputShape(inputShape);
  }

  @Override
  public String toString() {
    return spec.toString();
  }
}
