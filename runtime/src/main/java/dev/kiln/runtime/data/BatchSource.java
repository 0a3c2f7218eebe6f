package dev.kiln.runtime.data;

/**
 * Implemented by datasets that can copy a batch out in one go, such as {@link TensorDataset} and
 * {@link ImageDataset}. A {@link DataLoader} calls {@link #gather} instead of stacking one {@link
 * Example} per sample.
 */
public interface BatchSource {
  /**
   * The samples at {@code indices}, in that order, as one batch of {@code indices.length} rows. It
   * must equal what stacking {@code get(i)} for each index would give.
   *
   * @throws IndexOutOfBoundsException when an index is outside the dataset
   */
  Batch gather(int[] indices);
}
