package dev.kiln.dsl;

import dev.kiln.runtime.Ops;
import dev.kiln.runtime.Tensor;

/** {@code max(0, x)} element-wise; any shape. */
public class ReLU extends Layer<ReLU.Spec> {
  /** ReLU's shape rule: any shape, unchanged. */
  public record Spec() implements LayerSpec {
    @Override
    public int[] outputShape(int[] in) {
      return in.clone();
    }

    @Override
    public String toString() {
      return "ReLU()";
    }
  }

  public ReLU() {
    super(new Spec());
  }

  @Override
  public Tensor forward(Tensor x) {
    return Ops.relu(x);
  }

}
