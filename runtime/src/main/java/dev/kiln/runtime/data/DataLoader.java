package dev.kiln.runtime.data;

import dev.kiln.runtime.Generator;
import dev.kiln.runtime.Kiln;
import dev.kiln.runtime.util.Progress;
import java.io.PrintStream;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Iterator;
import java.util.List;
import java.util.NoSuchElementException;
import java.util.Objects;
import java.util.function.Function;

/**
 * Iterates over a dataset in mini-batches, like PyTorch's {@code DataLoader}. Each call to {@link
 * #iterator()} (each {@code for (Batch b : loader)} loop) is one epoch that visits every sample
 * once; with {@code shuffle} the order is a fresh random permutation drawn from {@link
 * Kiln#generator()}, so consecutive epochs differ and {@link Kiln#manualSeed} makes the whole
 * sequence reproducible. Without it the order is {@code 0 .. n-1}.
 *
 * <p>The last batch of an epoch is smaller when the batch size does not divide the dataset size,
 * unless {@code dropLast} is set, in which case it is skipped. Batches come from {@link
 * BatchSource#gather} when the dataset implements it and from stacking its examples otherwise.
 *
 * <pre>{@code
 * var loader = new DataLoader<>(FashionMnist.train(), 64, true);
 * for (Batch b : loader) { ... b.x() ... b.y() ... }
 * }</pre>
 *
 * @param <T> the dataset's example type
 */
public final class DataLoader<T extends Example> implements Iterable<Batch> {
  private final Dataset<T> dataset;
  private final int batchSize;
  private final boolean shuffle;
  private final boolean dropLast;
  /** The user's batch builder (PyTorch's {@code collate_fn}), or null for the default stacking. */
  private final Function<List<T>, Batch> collate;

  /** A loader that keeps the last, possibly smaller, batch of each epoch. */
  public DataLoader(Dataset<T> dataset, int batchSize, boolean shuffle) {
    this(dataset, batchSize, shuffle, false);
  }

  /**
   * A loader over {@code dataset}.
   *
   * @param batchSize samples per batch, at least 1
   * @param shuffle whether each epoch visits the samples in a new random order
   * @param dropLast whether to skip the last batch of an epoch when it has fewer than {@code batchSize} samples
   * @throws IllegalArgumentException when {@code batchSize < 1}, or when shuffling an empty dataset
   *     (as PyTorch's {@code RandomSampler}: an epoch would silently do nothing)
   */
  public DataLoader(Dataset<T> dataset, int batchSize, boolean shuffle, boolean dropLast) {
    this(dataset, batchSize, shuffle, dropLast, null);
  }

  private DataLoader(Dataset<T> dataset, int batchSize, boolean shuffle, boolean dropLast, Function<List<T>, Batch> collate) {
    this.collate = collate;
    this.dataset = Objects.requireNonNull(dataset, "DataLoader: dataset is null");
    if (batchSize < 1) {
      throw new IllegalArgumentException("DataLoader: batch size must be at least 1, got " + batchSize);
    }
    int size = datasetSize(dataset);
    if (shuffle && size == 0) {
      throw new IllegalArgumentException("DataLoader: the dataset is empty (0 samples); there is nothing to shuffle");
    }
    this.batchSize = batchSize;
    this.shuffle = shuffle;
    this.dropLast = dropLast;
  }

  /** Starts an epoch: a new permutation when shuffling, {@code 0 .. n-1} otherwise. */
  @Override
  public Iterator<Batch> iterator() {
    int n = datasetSize(dataset);
    int[] order = shuffle ? permutation(n, Kiln.generator()) : identity(n);
    int batches = batchCount(n);
    return new Iterator<>() {
      private int next;

      @Override
      public boolean hasNext() {
        return next < batches;
      }

      @Override
      public Batch next() {
        if (!hasNext()) {
          throw new NoSuchElementException("DataLoader: the epoch has ended after " + batches + " batches");
        }
        int start = next++ * batchSize;
        return load(Arrays.copyOfRange(order, start, Math.min(start + batchSize, n)));
      }
    };
  }

  /**
   * This loader's epochs with a progress bar, like {@code tqdm(train_loader)}: each {@code for}
   * loop over the result is one epoch, and the bar ({@link Progress}, on standard output) is drawn
   * on a terminal only, redrawn as each batch's work is done (when the loop asks for the next) and
   * cleared when the epoch ends. Elsewhere (a log file, CI) nothing is printed. A loop left early
   * ({@code break}, an exception) leaves the bar's last line as it was drawn.
   *
   * <pre>{@code
   * for (Batch b : train.withProgress("epoch " + epoch)) { ... }
   * }</pre>
   */
  public Iterable<Batch> withProgress(String label) {
    return withProgress(label, System.out, System.console() != null);
  }

  /** {@link #withProgress(String)} on any stream, drawn or not as told (for tests and embedding). */
  public Iterable<Batch> withProgress(String label, PrintStream out, boolean interactive) {
    Objects.requireNonNull(label, "DataLoader.withProgress: label is null");
    Objects.requireNonNull(out, "DataLoader.withProgress: stream is null");
    return () -> {
      Iterator<Batch> epoch = iterator();
      Progress bar = Progress.start(label, size(), out, interactive);
      return new Iterator<>() {
        private boolean handedOut;
        private boolean finished;

        @Override
        public boolean hasNext() {
          if (handedOut) { // the loop body of the batch handed out last has run
            handedOut = false;
            bar.step();
          }
          boolean more = epoch.hasNext();
          if (!more && !finished) {
            finished = true;
            bar.finish();
          }
          return more;
        }

        @Override
        public Batch next() {
          if (!hasNext()) {
            throw new NoSuchElementException("DataLoader: the epoch has ended after " + size() + " batches");
          }
          Batch b = epoch.next();
          handedOut = true;
          return b;
        }
      };
    };
  }

  /**
   * This loader with batches built by {@code collate} from each batch's examples, in order (PyTorch's
   * {@code collate_fn}): sequences of different lengths padded per batch, say.
   *
   * <pre>{@code
   * var loader = new DataLoader<>(sentences, 32, true).collate(samples -> new Batch(
   *     Tensor.padSequence(samples.stream().map(Example::x).toList(), true, 0f),
   *     Tensor.padSequence(samples.stream().map(Example::y).toList(), true, -100)));
   * }</pre>
   */
  public DataLoader<T> collate(Function<List<T>, Batch> collate) {
    return new DataLoader<>(dataset, batchSize, shuffle, dropLast, Objects.requireNonNull(collate, "DataLoader: collate is null"));
  }

  private Batch load(int[] indices) {
    if (collate != null) {
      List<T> samples = new ArrayList<>(indices.length);
      for (int i : indices) {
        samples.add(dataset.get(i));
      }
      return Objects.requireNonNull(collate.apply(samples), "DataLoader: the collate function returned null");
    }
    return dataset instanceof BatchSource source ? source.gather(indices) : Collate.stack(dataset, indices);
  }

  /** The number of batches in one epoch. */
  public int size() {
    return batchCount(dataset.size());
  }

  /** The number of samples in the dataset. */
  public int datasetSize() {
    return dataset.size();
  }

  /** The dataset this loader reads. */
  public Dataset<T> dataset() {
    return dataset;
  }

  /** Samples per batch (the last batch of an epoch may have fewer unless {@link #dropLast()}). */
  public int batchSize() {
    return batchSize;
  }

  /** Whether each epoch draws a new random order. */
  public boolean shuffle() {
    return shuffle;
  }

  /** Whether an incomplete last batch is skipped. */
  public boolean dropLast() {
    return dropLast;
  }

  private int batchCount(int n) {
    return dropLast ? n / batchSize : n / batchSize + (n % batchSize == 0 ? 0 : 1);
  }

  static int[] identity(int n) {
    int[] order = new int[n];
    Arrays.setAll(order, i -> i);
    return order;
  }

  /** A uniformly random permutation of {@code 0 .. n-1} (Fisher–Yates). */
  static int[] permutation(int n, Generator rng) {
    int[] order = identity(n);
    for (int i = n - 1; i > 0; i--) {
      int j = rng.nextInt(i + 1);
      int t = order[i];
      order[i] = order[j];
      order[j] = t;
    }
    return order;
  }

  /** {@code dataset.size()}, checked: a custom dataset's negative size is named, not an array error. */
  private static int datasetSize(Dataset<?> dataset) {
    int n = dataset.size();
    if (n < 0) {
      throw new IllegalStateException("DataLoader: " + dataset.getClass().getName() + ".size() returned " + n);
    }
    return n;
  }
}
