package dev.kiln.dsl;

import dev.kiln.runtime.Tensor;

/** Its input itself, as PyTorch's {@code nn.Identity()}: a placeholder (a head switched off); any shape. */
public class Identity extends Layer<Identity.Spec> {
  /** Identity's shape rule: any shape, unchanged. */
  public record Spec() implements LayerSpec {
    @Override
    public int[] outputShape(int[] in) {
      return in.clone();
    }

    @Override
    public String toString() {
      return "Identity()";
    }
  }

  public Identity() {
    super(new Spec());
  }

  @Override
  public Tensor forward(Tensor x) {
    return x;
  }
}
