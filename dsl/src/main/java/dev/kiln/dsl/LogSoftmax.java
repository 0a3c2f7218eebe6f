package dev.kiln.dsl;

import dev.kiln.runtime.Ops;
import dev.kiln.runtime.Tensor;

/**
 * Log-softmax along dimension {@code dim} (negative counts from the end), as PyTorch's
 * {@code nn.LogSoftmax(dim)}: {@code x - log(sum(exp(x)))} along it, computed stably. Any shape
 * that has the dimension; the output has the input's shape. Its output is what {@link NLLLoss}
 * takes (the pair is {@link CrossEntropyLoss} on the logits).
 */
public class LogSoftmax extends Layer<LogSoftmax.Spec> {
  /** LogSoftmax's hyper-parameter and shape rule: any shape with dimension {@code dim}, unchanged. */
  public record Spec(int dim) implements LayerSpec {
    @Override
    public int[] outputShape(int[] in) {
      return Softmax.alongDim(this, dim, in);
    }

    @Override
    public String toString() {
      return "LogSoftmax(dim=" + dim + ")";
    }
  }


  public LogSoftmax(int dim) {
    super(new Spec(dim));
  }


  @Override
  public Tensor forward(Tensor x) {
    outputShape(x.shape());
    return Ops.logSoftmax(x, spec().dim());
  }


}
