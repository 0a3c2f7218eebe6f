package dev.kiln.runtime.data;

import dev.kiln.runtime.Shapes;
import dev.kiln.runtime.Tensor;
import java.util.Objects;

/**
 * A mini-batch as a {@link DataLoader} yields it: inputs {@code x} and targets {@code y} whose first
 * dimension is the batch, e.g. {@code x} of shape {@code [64, 1, 28, 28]} and {@code y} a {@code
 * [64]} {@link dev.kiln.runtime.DType#INT32} label tensor.
 *
 * @param x the inputs, one row per sample
 * @param y the targets, one row per sample
 */
public record Batch(Tensor x, Tensor y) {
  /**
   * Checks that both tensors have the same first dimension.
   *
   * @throws IllegalArgumentException when {@code x} or {@code y} has no batch dimension or they disagree
   */
  public Batch {
    Objects.requireNonNull(x, "Batch: x is null");
    Objects.requireNonNull(y, "Batch: y is null");
    if (x.dim() == 0 || y.dim() == 0 || x.size(0) != y.size(0)) {
      throw new IllegalArgumentException(
          "Batch: x and y need the same first (batch) dimension, got x " + Shapes.toString(x.shape())
              + " and y " + Shapes.toString(y.shape()));
    }
  }

  /** The number of samples: the first dimension of {@link #x()}. */
  public int size() {
    return x.size(0);
  }
}
