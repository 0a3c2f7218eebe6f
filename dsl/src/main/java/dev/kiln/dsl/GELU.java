package dev.kiln.dsl;

import dev.kiln.runtime.Ops;
import dev.kiln.runtime.Tensor;

/**
 * GELU, {@code x * Phi(x)} element-wise with {@code Phi} the standard normal CDF (by the error
 * function), as PyTorch's {@code nn.GELU()}; any shape. Compiled models fuse it as the other
 * activations.
 */
public class GELU extends Layer<GELU.Spec> {
  /** GELU's shape rule: any shape, unchanged. */
  public record Spec() implements LayerSpec {
    @Override
    public int[] outputShape(int[] in) {
      return in.clone();
    }

    @Override
    public String toString() {
      return "GELU(approximate='none')";
    }
  }

  public GELU() {
    super(new Spec());
  }

  @Override
  public Tensor forward(Tensor x) {
    return Ops.gelu(x);
  }

}
