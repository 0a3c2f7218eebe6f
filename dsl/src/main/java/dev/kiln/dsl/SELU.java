package dev.kiln.dsl;

import dev.kiln.runtime.Ops;
import dev.kiln.runtime.Tensor;

/**
 * SELU, {@code scale (x > 0 ? x : alpha (exp(x) - 1))} element-wise with PyTorch's fixed alpha (1.6733) and scale
 * (1.0507), as {@code nn.SELU()}; any shape. A compiled {@code @Model} takes it too (eager mode's kernels over its buffers).
 */
public class SELU extends Layer<SELU.Spec> {
  /** SELU's shape rule: any shape, unchanged. */
  public record Spec() implements LayerSpec {
    @Override
    public int[] outputShape(int[] in) {
      return in.clone();
    }

    @Override
    public String toString() {
      return "SELU()";
    }
  }

  public SELU() {
    super(new Spec());
  }

  @Override
  public Tensor forward(Tensor x) {
    return Ops.selu(x);
  }
}
