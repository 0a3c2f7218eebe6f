package dev.kiln.dsl;

import dev.kiln.runtime.Ops;
import dev.kiln.runtime.Tensor;

/** {@code max(0, x)} element-wise; any shape. */
public class ReLU extends Module {
  @Override
  public Tensor forward(Tensor x) {
    return Ops.relu(x);
  }

  @Override
  public int[] outputShape(int[] in) {
    return in.clone();
  }
}
