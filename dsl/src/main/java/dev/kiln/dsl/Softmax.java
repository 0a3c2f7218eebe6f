package dev.kiln.dsl;

import dev.kiln.runtime.Ops;
import dev.kiln.runtime.Shapes;
import dev.kiln.runtime.Tensor;

/**
 * Softmax along dimension {@code dim} (negative counts from the end), as PyTorch's
 * {@code nn.Softmax(dim)}: the values along it become probabilities that sum to 1. Any shape
 * that has the dimension; the output has the input's shape. For a loss, feed logits to
 * {@link CrossEntropyLoss} instead, which includes the log-softmax.
 */
public class Softmax extends Layer<Softmax.Spec> {
  /** Softmax's hyper-parameter and shape rule: any shape with dimension {@code dim}, unchanged. */
  public record Spec(int dim) implements LayerSpec {
    @Override
    public int[] outputShape(int[] in) {
      return alongDim(this, dim, in);
    }

    @Override
    public String toString() {
      return "Softmax(dim=" + dim + ")";
    }
  }


  /** The shape rule of an op along {@code dim} that keeps the shape (softmax, log-softmax): {@code in}, if it has the dimension. */
  static int[] alongDim(LayerSpec spec, int dim, int[] in) {
    try {
      Shapes.normalizeDim(dim, in.length);
    } catch (IllegalArgumentException e) {
      throw new ShapeException(spec + " cannot take " + Shapes.toString(in) + ": " + e.getMessage());
    }
    return in.clone();
  }

  public Softmax(int dim) {
    super(new Spec(dim));
  }


  @Override
  public Tensor forward(Tensor x) {
    outputShape(x.shape());
    return Ops.softmax(x, spec().dim());
  }


}
