package dev.kiln.dsl;

import dev.kiln.runtime.Ops;
import dev.kiln.runtime.Tensor;

/**
 * {@code x * sigmoid(x)} element-wise (SiLU, "swish"), as PyTorch's {@code nn.SiLU}; any shape.
 * Eager on either device, composed of the tape's sigmoid and mul (the annotation processor has no
 * fused code for it).
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
    return Ops.mul(x, Ops.sigmoid(x));
  }
}
