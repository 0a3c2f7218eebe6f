package dev.kiln.dsl;

import dev.kiln.runtime.Ops;
import dev.kiln.runtime.Tensor;

/**
 * Mish, {@code x tanh(softplus(x))} element-wise, as PyTorch's {@code nn.Mish()}; any shape. A compiled {@code @Model} takes it too (eager mode's kernels over its buffers).
 */
public class Mish extends Layer<Mish.Spec> {
  /** Mish's shape rule: any shape, unchanged. */
  public record Spec() implements LayerSpec {
    @Override
    public int[] outputShape(int[] in) {
      return in.clone();
    }

    @Override
    public String toString() {
      return "Mish()";
    }
  }

  public Mish() {
    super(new Spec());
  }

  @Override
  public Tensor forward(Tensor x) {
    return Ops.mish(x);
  }
}
