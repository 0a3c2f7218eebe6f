package dev.kiln.dsl;

import dev.kiln.runtime.Ops;
import dev.kiln.runtime.Tensor;

/**
 * {@code min(max(x + 3, 0), 6) / 6} element-wise, as PyTorch's {@code nn.Hardsigmoid()}; any shape. A compiled {@code @Model} takes it too (eager mode's kernels over its buffers).
 */
public class Hardsigmoid extends Layer<Hardsigmoid.Spec> {
  /** Hardsigmoid's shape rule: any shape, unchanged. */
  public record Spec() implements LayerSpec {
    @Override
    public int[] outputShape(int[] in) {
      return in.clone();
    }

    @Override
    public String toString() {
      return "Hardsigmoid()";
    }
  }

  public Hardsigmoid() {
    super(new Spec());
  }

  @Override
  public Tensor forward(Tensor x) {
    return Ops.hardsigmoid(x);
  }
}
