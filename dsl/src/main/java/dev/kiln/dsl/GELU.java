package dev.kiln.dsl;

import dev.kiln.runtime.Ops;
import dev.kiln.runtime.Tensor;

/**
 * GELU, {@code x * Phi(x)} element-wise with {@code Phi} the standard normal CDF (by the error
 * function), as PyTorch's {@code nn.GELU()}; with {@code approximate = "tanh"} PyTorch's tanh
 * approximation {@code 0.5 x (1 + tanh(sqrt(2 / pi) (x + 0.044715 x^3)))} (GPT-2's, {@code
 * nn.GELU(approximate='tanh')}); any shape. Compiled models fuse either as the other activations.
 */
public class GELU extends Layer<GELU.Spec> {
  /**
   * GELU's shape rule: any shape, unchanged.
   *
   * @param approximate {@code "none"} (the exact form) or {@code "tanh"}; anything else is an error naming it
   */
  public record Spec(String approximate) implements LayerSpec {
    public Spec {
      Ops.geluApproximation(approximate);
    }

    /** The exact form, {@code approximate = "none"}. */
    public Spec() {
      this("none");
    }

    /** Whether this is the tanh approximation. */
    public boolean tanh() {
      return Ops.geluApproximation(approximate);
    }

    @Override
    public int[] outputShape(int[] in) {
      return in.clone();
    }

    @Override
    public String toString() {
      return "GELU(approximate='" + approximate + "')";
    }
  }

  /** The exact form, PyTorch's {@code nn.GELU()}. */
  public GELU() {
    super(new Spec());
  }

  /**
   * PyTorch's {@code nn.GELU(approximate=...)}.
   *
   * @param approximate {@code "none"} or {@code "tanh"}
   */
  public GELU(String approximate) {
    super(new Spec(approximate));
  }

  @Override
  public Tensor forward(Tensor x) {
    return Ops.gelu(x, spec().approximate());
  }

}
