package dev.kiln.runtime.data;

import dev.kiln.runtime.Shapes;
import dev.kiln.runtime.Tensor;
import java.util.Arrays;
import java.util.Objects;

/**
 * A dataset over two tensors whose first dimension indexes the samples, like PyTorch's {@code
 * TensorDataset}: sample {@code i} is row {@code i} of {@code x} and row {@code i} of {@code y}.
 * Rows are copied out, so later changes to the tensors show in later samples and batches.
 *
 * <pre>{@code
 * var data = new TensorDataset(Tensor.randn(100, 4), Tensor.labels(classes));  // classes: int[100]
 * data.get(3);            // Example(x [4], y [] INT32)
 * }</pre>
 */
public final class TensorDataset implements Dataset<Example>, BatchSource {
  private final Tensor x;
  private final Tensor y;

  /**
   * A dataset of {@code x.size(0)} samples.
   *
   * @throws IllegalArgumentException when a tensor has rank 0 or their first dimensions differ
   */
  public TensorDataset(Tensor x, Tensor y) {
    Objects.requireNonNull(x, "TensorDataset: x is null");
    Objects.requireNonNull(y, "TensorDataset: y is null");
    if (x.dim() == 0 || y.dim() == 0 || x.size(0) != y.size(0)) {
      throw new IllegalArgumentException(
          "TensorDataset: x and y need the same first (sample) dimension, got x " + Shapes.toString(x.shape())
              + " and y " + Shapes.toString(y.shape()));
    }
    this.x = x;
    this.y = y;
  }

  @Override
  public int size() {
    return x.size(0);
  }

  /** Row {@code index} of {@code x} and of {@code y}, without the sample dimension. */
  @Override
  public Example get(int index) {
    int[] indices = {index};
    return new Example(rows(x, indices, false), rows(y, indices, false));
  }

  @Override
  public Batch gather(int[] indices) {
    return new Batch(rows(x, indices, true), Collate.labelsAsVector(rows(y, indices, true), indices.length));
  }

  /** Copies the given rows of {@code t} into a new tensor, with or without a leading batch dimension. */
  private Tensor rows(Tensor t, int[] indices, boolean batched) {
    int[] shape = t.shape();
    int[] rowShape = Arrays.copyOfRange(shape, 1, shape.length);
    int rowSize = Shapes.numel(rowShape);
    float[] out = new float[Math.multiplyExact(rowSize, indices.length)];
    for (int k = 0; k < indices.length; k++) {
      int row = Objects.checkIndex(indices[k], size());
      System.arraycopy(t.readBuffer(), t.offset() + row * rowSize, out, k * rowSize, rowSize);
    }
    return Tensor.wrap(out, t.dtype(), batched ? Collate.batchShape(indices.length, rowShape) : rowShape);
  }
}
