package dev.kiln.dsl;

import dev.kiln.runtime.Ops;
import dev.kiln.runtime.Tensor;

/**
 * CELU, {@code x > 0 ? x : alpha (exp(x / alpha) - 1)} element-wise, as PyTorch's {@code nn.CELU(alpha=1.0)}; any
 * shape. A compiled {@code @Model} takes it too (eager mode's kernels over its buffers).
 */
public class CELU extends Layer<CELU.Spec> {
  /** CELU's hyper-parameter and shape rule: any shape, unchanged. */
  public record Spec(double alpha) implements LayerSpec {
    public Spec {
      if (!Float.isFinite((float) alpha) || (float) alpha == 0) { // kernels compute in float; alpha divides
        throw new IllegalArgumentException("CELU: alpha must be a finite float other than 0, got " + alpha);
      }
    }

    @Override
    public int[] outputShape(int[] in) {
      return in.clone();
    }

    @Override
    public String toString() {
      return "CELU(alpha=" + pythonRepr(alpha) + ")";
    }
  }

  /** alpha = 1.0, PyTorch's default. */
  public CELU() {
    this(1.0);
  }

  public CELU(double alpha) {
    super(new Spec(alpha));
  }

  @Override
  public Tensor forward(Tensor x) {
    return Ops.celu(x, spec().alpha());
  }
}
