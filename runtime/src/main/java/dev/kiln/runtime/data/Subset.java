package dev.kiln.runtime.data;

import dev.kiln.runtime.Kiln;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Objects;

/**
 * A view of chosen samples of another dataset, like PyTorch's {@code torch.utils.data.Subset}:
 * sample {@code i} of the subset is sample {@code indices[i]} of the dataset. Nothing is copied;
 * batches of a subset of a {@link BatchSource} are still copied out in one go.
 *
 * <pre>{@code
 * var quick = Subset.first(FashionMnist.train(), 6000);      // the first 6000 images
 * Kiln.manualSeed(0);
 * var parts = Subset.randomSplit(FashionMnist.train(), 50_000, 10_000);  // train / validation
 * }</pre>
 *
 * @param <T> the dataset's sample type
 */
public final class Subset<T> implements Dataset<T>, BatchSource {
  private final Dataset<T> dataset;
  private final int[] indices;

  private Subset(Dataset<T> dataset, int[] indices) {
    this.dataset = dataset;
    this.indices = indices;
  }

  /**
   * The samples of {@code dataset} at {@code indices}, in that order (an index may repeat).
   *
   * @throws IndexOutOfBoundsException naming the first index outside {@code 0 .. dataset.size() - 1}
   */
  public static <T> Subset<T> of(Dataset<T> dataset, int... indices) {
    Objects.requireNonNull(dataset, "Subset: dataset is null");
    int n = dataset.size();
    for (int i = 0; i < indices.length; i++) {
      if (indices[i] < 0 || indices[i] >= n) {
        throw new IndexOutOfBoundsException(
            "Subset: indices[" + i + "] = " + indices[i] + " is outside the dataset's " + n + " samples");
      }
    }
    return new Subset<>(dataset, indices.clone());
  }

  /**
   * The first {@code count} samples of {@code dataset}.
   *
   * @throws IllegalArgumentException when {@code count} is negative or more than the dataset holds
   */
  public static <T> Subset<T> first(Dataset<T> dataset, int count) {
    Objects.requireNonNull(dataset, "Subset: dataset is null");
    if (count < 0 || count > dataset.size()) {
      throw new IllegalArgumentException(
          "Subset.first: count must be 0.." + dataset.size() + " (the dataset's size), got " + count);
    }
    return new Subset<>(dataset, DataLoader.identity(count));
  }

  /**
   * Splits {@code dataset} into non-overlapping random subsets of the given lengths, like PyTorch's
   * {@code random_split}: one permutation drawn from {@link Kiln#generator()} (so {@link
   * Kiln#manualSeed} makes it reproducible), cut into consecutive pieces.
   *
   * @throws IllegalArgumentException when a length is negative or the lengths do not add up to the
   *     dataset's size
   */
  public static <T> List<Subset<T>> randomSplit(Dataset<T> dataset, int... lengths) {
    Objects.requireNonNull(dataset, "Subset: dataset is null");
    long total = 0;
    for (int length : lengths) {
      if (length < 0) {
        throw new IllegalArgumentException("Subset.randomSplit: lengths must not be negative, got " + Arrays.toString(lengths));
      }
      total += length;
    }
    if (total != dataset.size()) {
      throw new IllegalArgumentException("Subset.randomSplit: the lengths " + Arrays.toString(lengths) + " add up to "
          + total + ", not to the dataset's " + dataset.size() + " samples");
    }
    int[] order = DataLoader.permutation(dataset.size(), Kiln.generator());
    List<Subset<T>> parts = new ArrayList<>(lengths.length);
    int start = 0;
    for (int length : lengths) {
      parts.add(new Subset<>(dataset, Arrays.copyOfRange(order, start, start + length)));
      start += length;
    }
    return parts;
  }

  /**
   * {@link #randomSplit(Dataset, int...)} by fractions that add up to 1, as PyTorch 1.13's {@code
   * random_split(dataset, [0.8, 0.2])}: each part gets {@code floor(size * fraction)} samples and the
   * samples left over go one each to the parts in turn, from the first.
   *
   * @throws IllegalArgumentException for a fraction outside [0, 1] or fractions that do not add up to 1
   */
  public static <T> List<Subset<T>> randomSplit(Dataset<T> dataset, double... fractions) {
    Objects.requireNonNull(dataset, "Subset: dataset is null");
    double sum = 0;
    for (double f : fractions) {
      if (!(f >= 0 && f <= 1)) {
        throw new IllegalArgumentException("Subset.randomSplit: fractions must lie in [0, 1], got " + Arrays.toString(fractions));
      }
      sum += f;
    }
    if (fractions.length == 0 || Math.abs(sum - 1) > 1e-9 || sum > 1) {
      throw new IllegalArgumentException("Subset.randomSplit: the fractions " + Arrays.toString(fractions) + " add up to " + sum
          + ", not 1 (give counts as ints instead)");
    }
    int[] lengths = new int[fractions.length];
    int given = 0;
    for (int i = 0; i < fractions.length; i++) {
      lengths[i] = (int) Math.floor(dataset.size() * fractions[i]);
      given += lengths[i];
    }
    for (int i = 0; i < dataset.size() - given; i++) {
      lengths[i % lengths.length]++;
    }
    return randomSplit(dataset, lengths);
  }

  @Override
  public int size() {
    return indices.length;
  }

  @Override
  public T get(int index) {
    return dataset.get(indices[Objects.checkIndex(index, indices.length)]);
  }

  /** The dataset this subset views. */
  public Dataset<T> dataset() {
    return dataset;
  }

  /** The dataset's index of each sample of the subset (a copy). */
  public int[] indices() {
    return indices.clone();
  }

  /**
   * The samples at {@code indices} of this subset, copied out by the underlying dataset's own
   * {@link BatchSource#gather} when it has one, else stacked from its {@link Example}s.
   *
   * @throws IndexOutOfBoundsException when an index is outside this subset
   * @throws UnsupportedOperationException when the samples are not {@link Example}s
   */
  @Override
  @SuppressWarnings("unchecked")
  public Batch gather(int[] rows) {
    int[] mapped = new int[rows.length];
    for (int i = 0; i < rows.length; i++) {
      mapped[i] = indices[Objects.checkIndex(rows[i], indices.length)];
    }
    if (dataset instanceof BatchSource source) {
      return source.gather(mapped);
    }
    try { // each sample is read once: a dataset may draw (augment) or read a file in get()
      return Collate.stack((Dataset<? extends Example>) dataset, mapped);
    } catch (ClassCastException e) {
      throw new UnsupportedOperationException("Subset.gather: the samples are not Examples, so they cannot be batched ("
          + e.getMessage() + ")", e);
    }
  }

  @Override
  public String toString() {
    return "Subset(" + indices.length + " of " + dataset.size() + " samples)";
  }
}
