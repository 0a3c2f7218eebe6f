package dev.kiln.dsl;

import dev.kiln.runtime.Ops;
import dev.kiln.runtime.Tensor;

/** {@code 1 / (1 + exp(-x))} element-wise; any shape. */
public class Sigmoid extends Layer<Sigmoid.Spec> {
  /** Sigmoid's shape rule: any shape, unchanged. */
  public record Spec() implements LayerSpec {
    @Override
    public int[] outputShape(int[] in) {
      return in.clone();
    }

    @Override
    public String toString() {
      return "Sigmoid()";
    }
  }

  public Sigmoid() {
    super(new Spec());
  }

  @Override
  public Tensor forward(Tensor x) {
    return Ops.sigmoid(x);
  }

}
