package dev.kiln.runtime.data;

import dev.kiln.runtime.DType;
import dev.kiln.runtime.Shapes;
import dev.kiln.runtime.Tensor;
import java.util.Arrays;
import java.util.function.Function;

/**
 * Builds a batch from a dataset that is not a {@link BatchSource} by stacking its examples, like
 * PyTorch's {@code default_collate}: inputs of shape {@code S} become {@code [B, S...]}, targets
 * likewise, except that {@link DType#INT32} labels with one element each (shape {@code []} or
 * {@code [1]}) become a {@code [B]} label vector, the shape a classification loss expects.
 */
final class Collate {
  private Collate() {}

  /**
   * Stacks {@code data.get(i)} for each of the (at least one) indices.
   *
   * @throws IllegalArgumentException naming the indices, types and shapes when two examples disagree
   */
  static Batch stack(Dataset<? extends Example> data, int[] indices) {
    Example[] examples = new Example[indices.length];
    for (int k = 0; k < indices.length; k++) {
      examples[k] = data.get(indices[k]);
      if (examples[k] == null) {
        throw new IllegalStateException("DataLoader: dataset.get(" + indices[k] + ") returned null ("
            + data.getClass().getName() + ")");
      }
    }
    Tensor x = stack(examples, indices, "x", Example::x);
    Tensor y = stack(examples, indices, "y", Example::y);
    return new Batch(x, labelsAsVector(y, indices.length));
  }

  /**
   * One class index per sample ({@code [B]}, what cross-entropy takes) when {@code y} holds int32
   * labels of one value each ({@code [B, 1]} as well as {@code [B]}); other targets as they are. The
   * rule of every batch, stacked or {@link BatchSource#gather gathered}.
   */
  static Tensor labelsAsVector(Tensor y, int batch) {
    boolean labels = y.dtype() == DType.INT32 && y.numel() == batch && y.dim() >= 1;
    return labels && y.dim() != 1 ? y.reshape(batch) : y;
  }

  private static Tensor stack(Example[] examples, int[] indices, String field, Function<Example, Tensor> part) {
    Tensor first = part.apply(examples[0]);
    int rowSize = first.numel();
    float[] out = new float[Math.multiplyExact(rowSize, examples.length)];
    for (int k = 0; k < examples.length; k++) {
      Tensor t = part.apply(examples[k]);
      if (t.dtype() != first.dtype() || !Arrays.equals(t.shape(), first.shape())) {
        throw new IllegalArgumentException(
            "DataLoader: cannot stack sample " + indices[k] + " into a batch: its " + field + " is "
                + describe(t) + " but sample " + indices[0] + " has " + describe(first));
      }
      System.arraycopy(t.readBuffer(), t.offset(), out, k * rowSize, rowSize);
    }
    return Tensor.wrap(out, first.dtype(), batchShape(examples.length, first.shape()));
  }

  private static String describe(Tensor t) {
    return t.dtype() + " " + Shapes.toString(t.shape());
  }

  /** {@code [batch, rowShape...]}. */
  static int[] batchShape(int batch, int[] rowShape) {
    int[] shape = new int[rowShape.length + 1];
    shape[0] = batch;
    System.arraycopy(rowShape, 0, shape, 1, rowShape.length);
    return shape;
  }
}
