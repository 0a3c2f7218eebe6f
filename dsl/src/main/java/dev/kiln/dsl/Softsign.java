package dev.kiln.dsl;

import dev.kiln.runtime.Ops;
import dev.kiln.runtime.Tensor;

/**
 * {@code x / (1 + |x|)} element-wise, as PyTorch's {@code nn.Softsign()}; any shape. A compiled {@code @Model} takes it too (eager mode's kernels over its buffers).
 */
public class Softsign extends Layer<Softsign.Spec> {
  /** Softsign's shape rule: any shape, unchanged. */
  public record Spec() implements LayerSpec {
    @Override
    public int[] outputShape(int[] in) {
      return in.clone();
    }

    @Override
    public String toString() {
      return "Softsign()";
    }
  }

  public Softsign() {
    super(new Spec());
  }

  @Override
  public Tensor forward(Tensor x) {
    return Ops.softsign(x);
  }
}
