package dev.kiln.dsl;

import dev.kiln.runtime.Tensor;

/**
 * Softmin along dimension {@code dim} (negative counts from the end), as PyTorch's {@code nn.Softmin(dim)}: the
 * softmax of {@code -x}, so the smallest values get the largest probabilities. Any shape that has the dimension,
 * unchanged.
 */
public class Softmin extends Layer<Softmin.Spec> {
  /** Softmin's hyper-parameter and shape rule: any shape with dimension {@code dim}, unchanged. */
  public record Spec(int dim) implements LayerSpec {
    @Override
    public int[] outputShape(int[] in) {
      return Softmax.alongDim(this, dim, in);
    }

    @Override
    public String toString() {
      return "Softmin(dim=" + dim + ")";
    }
  }

  public Softmin(int dim) {
    super(new Spec(dim));
  }

  @Override
  public Tensor forward(Tensor x) {
    outputShape(x.shape());
    return F.softmin(x, spec().dim());
  }
}
