package dev.kiln.dsl;

import dev.kiln.runtime.Ops;
import dev.kiln.runtime.Tensor;

/**
 * {@code min(max(x, 0), 6)} element-wise, as PyTorch's {@code nn.ReLU6()}: {@link Hardtanh} between 0 and 6, its gradient 0 at
 * both bounds; any shape. A compiled {@code @Model} takes it too (eager mode's kernels over its buffers).
 */
public class ReLU6 extends Layer<ReLU6.Spec> {
  /** ReLU6's shape rule: any shape, unchanged. */
  public record Spec() implements LayerSpec {
    @Override
    public int[] outputShape(int[] in) {
      return in.clone();
    }

    @Override
    public String toString() {
      return "ReLU6()";
    }
  }

  public ReLU6() {
    super(new Spec());
  }

  @Override
  public Tensor forward(Tensor x) {
    return Ops.relu6(x);
  }
}
