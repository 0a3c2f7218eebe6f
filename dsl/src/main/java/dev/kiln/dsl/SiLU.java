package dev.kiln.dsl;

import dev.kiln.runtime.Ops;
import dev.kiln.runtime.Tensor;

/**
 * {@code x * sigmoid(x)} element-wise (SiLU, "swish"), as PyTorch's {@code nn.SiLU}; any shape.
 * One pass each way ({@link Ops#silu}) on either device; compiled as the other activations.
 */
public class SiLU extends Layer<SiLU.Spec> {
  /** SiLU's shape rule: any shape, unchanged. */
  public record Spec() implements LayerSpec {
    @Override
    public int[] outputShape(int[] in) {
      return in.clone();
    }

    @Override
    public String toString() {
      return "SiLU()";
    }
  }

  public SiLU() {
    super(new Spec());
  }

  @Override
  public Tensor forward(Tensor x) {
    return Ops.silu(x);
  }
}
