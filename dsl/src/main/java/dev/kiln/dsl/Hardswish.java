package dev.kiln.dsl;

import dev.kiln.runtime.Ops;
import dev.kiln.runtime.Tensor;

/**
 * {@code x min(max(x + 3, 0), 6) / 6} element-wise, as PyTorch's {@code nn.Hardswish()}; any shape. A compiled {@code @Model} takes it too (eager mode's kernels over its buffers).
 */
public class Hardswish extends Layer<Hardswish.Spec> {
  /** Hardswish's shape rule: any shape, unchanged. */
  public record Spec() implements LayerSpec {
    @Override
    public int[] outputShape(int[] in) {
      return in.clone();
    }

    @Override
    public String toString() {
      return "Hardswish()";
    }
  }

  public Hardswish() {
    super(new Spec());
  }

  @Override
  public Tensor forward(Tensor x) {
    return Ops.hardswish(x);
  }
}
