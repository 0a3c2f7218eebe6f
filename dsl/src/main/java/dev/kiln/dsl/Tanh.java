package dev.kiln.dsl;

import dev.kiln.runtime.Ops;
import dev.kiln.runtime.Tensor;

/** {@code tanh(x)} element-wise; any shape. */
public class Tanh extends Layer<Tanh.Spec> {
  /** Tanh's shape rule: any shape, unchanged. */
  public record Spec() implements LayerSpec {
    @Override
    public int[] outputShape(int[] in) {
      return in.clone();
    }

    @Override
    public String toString() {
      return "Tanh()";
    }
  }

  public Tanh() {
    super(new Spec());
  }

  @Override
  public Tensor forward(Tensor x) {
    return Ops.tanh(x);
  }

}
