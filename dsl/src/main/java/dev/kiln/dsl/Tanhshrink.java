package dev.kiln.dsl;

import dev.kiln.runtime.Ops;
import dev.kiln.runtime.Tensor;

/**
 * {@code x - tanh(x)} element-wise, as PyTorch's {@code nn.Tanhshrink()}; any shape. A compiled {@code @Model} takes it too (eager mode's kernels over its buffers).
 */
public class Tanhshrink extends Layer<Tanhshrink.Spec> {
  /** Tanhshrink's shape rule: any shape, unchanged. */
  public record Spec() implements LayerSpec {
    @Override
    public int[] outputShape(int[] in) {
      return in.clone();
    }

    @Override
    public String toString() {
      return "Tanhshrink()";
    }
  }

  public Tanhshrink() {
    super(new Spec());
  }

  @Override
  public Tensor forward(Tensor x) {
    return Ops.tanhshrink(x);
  }
}
