package dev.kiln.runtime.data;

/**
 * A finite, indexable collection of samples, like PyTorch's map-style {@code Dataset}: {@link
 * #get(int)} is defined for every index in {@code 0 .. size() - 1}.
 *
 * <p>Datasets used with a {@link DataLoader} hold {@link Example}s; implement {@link BatchSource}
 * as well when a batch can be copied out faster than by stacking single examples.
 *
 * @param <T> the type of one sample
 */
public interface Dataset<T> {
  /** The number of samples. */
  int size();

  /**
   * The sample at {@code index}.
   *
   * @throws IndexOutOfBoundsException unless {@code 0 <= index < size()}
   */
  T get(int index);
}
