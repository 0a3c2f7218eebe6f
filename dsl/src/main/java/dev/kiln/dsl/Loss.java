package dev.kiln.dsl;

import dev.kiln.runtime.Tensor;

/** A loss: {@code criterion.apply(prediction, target)} returns a tensor to call {@code backward()} on. */
public abstract class Loss {
  private final Reduction reduction;

  protected Loss(Reduction reduction) {
    if (reduction == null) {
      throw new IllegalArgumentException(getClass().getSimpleName() + ": reduction must not be null");
    }
    this.reduction = reduction;
  }

  public abstract Tensor apply(Tensor prediction, Tensor target);

  public Reduction reduction() {
    return reduction;
  }

  @Override
  public String toString() {
    return getClass().getSimpleName() + "()";
  }
}
