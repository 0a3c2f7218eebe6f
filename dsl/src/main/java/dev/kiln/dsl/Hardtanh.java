package dev.kiln.dsl;

import dev.kiln.runtime.Ops;
import dev.kiln.runtime.Tensor;

/**
 * {@code x} limited to {@code [minVal, maxVal]}, as PyTorch's {@code nn.Hardtanh(min_val=-1.0,
 * max_val=1.0)}: clamp's values, with a gradient only strictly inside the bounds (0 at them, as
 * PyTorch's); any shape. A compiled {@code @Model} takes it too (eager mode's kernels over its buffers).
 */
public class Hardtanh extends Layer<Hardtanh.Spec> {
  /** Hardtanh's bounds and shape rule: any shape, unchanged. */
  public record Spec(double minVal, double maxVal) implements LayerSpec {
    public Spec {
      if (!Float.isFinite((float) minVal) || !Float.isFinite((float) maxVal)) {
        throw new IllegalArgumentException("Hardtanh: min_val and max_val must be finite floats, got " + minVal + " and " + maxVal);
      }
      if (!(minVal < maxVal)) { // nn.Hardtanh asserts max_val > min_val (F.hardtanh takes any pair)
        throw new IllegalArgumentException("Hardtanh: max_val " + maxVal + " must be above min_val " + minVal);
      }
    }

    @Override
    public int[] outputShape(int[] in) {
      return in.clone();
    }

    @Override
    public String toString() {
      return "Hardtanh(min_val=" + pythonRepr(minVal) + ", max_val=" + pythonRepr(maxVal) + ")";
    }
  }

  /** The bounds -1 and 1, PyTorch's defaults. */
  public Hardtanh() {
    this(-1.0, 1.0);
  }

  public Hardtanh(double minVal, double maxVal) {
    super(new Spec(minVal, maxVal));
  }

  @Override
  public Tensor forward(Tensor x) {
    return Ops.hardtanh(x, spec().minVal(), spec().maxVal());
  }
}
