package dev.kiln.dsl;

import dev.kiln.runtime.Ops;
import dev.kiln.runtime.Tensor;

/**
 * {@code log(sigmoid(x))} element-wise, computed stably, as PyTorch's {@code nn.LogSigmoid()}; any shape. A compiled {@code @Model} takes it too (eager mode's kernels over its buffers).
 */
public class LogSigmoid extends Layer<LogSigmoid.Spec> {
  /** LogSigmoid's shape rule: any shape, unchanged. */
  public record Spec() implements LayerSpec {
    @Override
    public int[] outputShape(int[] in) {
      return in.clone();
    }

    @Override
    public String toString() {
      return "LogSigmoid()";
    }
  }

  public LogSigmoid() {
    super(new Spec());
  }

  @Override
  public Tensor forward(Tensor x) {
    return Ops.logSigmoid(x);
  }
}
