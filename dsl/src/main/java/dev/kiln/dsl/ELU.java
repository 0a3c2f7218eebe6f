package dev.kiln.dsl;

import dev.kiln.runtime.Ops;
import dev.kiln.runtime.Tensor;

/**
 * ELU, {@code x > 0 ? x : alpha (exp(x) - 1)} element-wise, as PyTorch's {@code nn.ELU(alpha=1.0)};
 * any shape. A compiled {@code @Model} takes it too (eager mode's kernels over its buffers).
 */
public class ELU extends Layer<ELU.Spec> {
  /** ELU's hyper-parameter and shape rule: any shape, unchanged. */
  public record Spec(double alpha) implements LayerSpec {
    public Spec {
      if (!Float.isFinite((float) alpha)) { // kernels compute in float
        throw new IllegalArgumentException("ELU: alpha must be a finite float, got " + alpha);
      }
    }

    @Override
    public int[] outputShape(int[] in) {
      return in.clone();
    }

    @Override
    public String toString() {
      return "ELU(alpha=" + pythonRepr(alpha) + ")";
    }
  }

  /** alpha = 1.0, PyTorch's default. */
  public ELU() {
    this(1.0);
  }

  public ELU(double alpha) {
    super(new Spec(alpha));
  }

  @Override
  public Tensor forward(Tensor x) {
    return Ops.elu(x, spec().alpha());
  }
}
