package dev.kiln.runtime.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kiln.runtime.DType;
import dev.kiln.runtime.Kiln;
import dev.kiln.runtime.Tensor;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Iterator;
import java.util.List;
import java.util.NoSuchElementException;
import java.util.function.IntFunction;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class DataLoaderTest {
  /** A dataset of {@code n} samples whose x is {@code [i, -i]} and y the label {@code i}. */
  private static TensorDataset numbered(int n) {
    float[] x = new float[2 * n];
    int[] labels = new int[n];
    for (int i = 0; i < n; i++) {
      x[2 * i] = i;
      x[2 * i + 1] = -i;
      labels[i] = i;
    }
    return new TensorDataset(Tensor.wrap(x, n, 2), Tensor.labels(labels));
  }

  /** A dataset without {@link BatchSource}, built from a function of the index. */
  private record Computed(int size, IntFunction<Example> example) implements Dataset<Example> {
    @Override
    public Example get(int index) {
      return example.apply(index);
    }
  }

  /** The sample order of one epoch, read from the labels, checking that x and y agree. */
  private static int[] epoch(DataLoader<?> loader) {
    List<Integer> order = new ArrayList<>();
    for (Batch b : loader) {
      float[] x = b.x().toFloatArray();
      int[] y = b.y().toIntArray();
      for (int k = 0; k < y.length; k++) {
        assertEquals(y[k], x[2 * k]);
        order.add(y[k]);
      }
    }
    return order.stream().mapToInt(Integer::intValue).toArray();
  }

  @ParameterizedTest(name = "shuffle={0} dropLast={1}")
  @CsvSource({"false,false,4", "true,false,4", "false,true,3", "true,true,3"})
  void everySampleOncePerEpochInBatchesOfTheRequestedSize(boolean shuffle, boolean dropLast, int batches) {
    var loader = new DataLoader<>(numbered(10), 3, shuffle, dropLast);
    assertEquals(batches, loader.size());
    assertEquals(10, loader.datasetSize());
    List<Integer> sizes = new ArrayList<>();
    for (Batch b : loader) {
      sizes.add(b.size());
      assertArrayEquals(new int[] {b.size(), 2}, b.x().shape());
      assertArrayEquals(new int[] {b.size()}, b.y().shape());
      assertEquals(DType.INT32, b.y().dtype());
    }
    assertEquals(dropLast ? List.of(3, 3, 3) : List.of(3, 3, 3, 1), sizes);
    int[] seen = epoch(loader);
    assertEquals(dropLast ? 9 : 10, seen.length);
    assertEquals(seen.length, Arrays.stream(seen).distinct().count(), "a sample came twice: " + Arrays.toString(seen));
    assertTrue(Arrays.stream(seen).allMatch(i -> i >= 0 && i < 10));
  }

  @Test
  void withoutShuffleTheOrderIsTheIndexOrder() {
    assertArrayEquals(IntStream.range(0, 10).toArray(), epoch(new DataLoader<>(numbered(10), 4, false)));
  }

  @Test
  void exactMultipleHasNoPartialBatchAndEmptyDatasetNoBatch() {
    assertEquals(5, new DataLoader<>(numbered(10), 2, true, false).size());
    assertEquals(0, new DataLoader<>(numbered(0), 2, false).size());
    assertFalse(new DataLoader<>(numbered(0), 2, false).iterator().hasNext());
    // Shuffling nothing is refused, as PyTorch's RandomSampler refuses it: the epoch would silently do nothing.
    var e = assertThrows(IllegalArgumentException.class, () -> new DataLoader<>(numbered(0), 2, true));
    assertEquals("DataLoader: the dataset is empty (0 samples); there is nothing to shuffle", e.getMessage());
  }

  @Test
  void consecutiveEpochsDrawDifferentOrders() {
    Kiln.manualSeed(1);
    var loader = new DataLoader<>(numbered(100), 16, true);
    int[] first = epoch(loader);
    int[] second = epoch(loader);
    assertFalse(Arrays.equals(first, second));
    Arrays.sort(first);
    Arrays.sort(second);
    assertArrayEquals(first, second);
    assertFalse(Arrays.equals(IntStream.range(0, 100).toArray(), epoch(loader)), "shuffle left the order as it was");
  }

  @Test
  void theSeedMakesTheSequenceOfOrdersReproducible() {
    assertArrayEquals(orders(42), orders(42));
    assertNotEquals(Arrays.deepToString(orders(42)), Arrays.deepToString(orders(43)));
  }

  /** Three epochs of a fresh shuffling loader after seeding. */
  private static int[][] orders(long seed) {
    Kiln.manualSeed(seed);
    var loader = new DataLoader<>(numbered(50), 8, true);
    return new int[][] {epoch(loader), epoch(loader), epoch(loader)};
  }

  @Test
  void batchSizeMustBePositive() {
    var e = assertThrows(IllegalArgumentException.class, () -> new DataLoader<>(numbered(3), 0, false));
    assertTrue(e.getMessage().contains("batch size must be at least 1, got 0"), e.getMessage());
  }

  @Test
  void iteratingPastTheEpochThrows() {
    Iterator<Batch> it = new DataLoader<>(numbered(3), 2, false).iterator();
    it.next();
    it.next();
    assertFalse(it.hasNext());
    assertThrows(NoSuchElementException.class, it::next);
  }

  @Test
  void stacksExamplesOfAPlainDataset() {
    var labelled = new Computed(5, i -> new Example(
        Tensor.of(new float[] {i, i, i, i, i, i}, 2, 3), Tensor.wrap(new float[] {i % 2}, DType.INT32)));
    Batch b = new DataLoader<>(labelled, 4, false).iterator().next();
    assertArrayEquals(new int[] {4, 2, 3}, b.x().shape());
    assertEquals(3f, b.x().get(3, 1, 2));
    assertArrayEquals(new int[] {0, 1, 0, 1}, b.y().toIntArray());
    assertArrayEquals(new int[] {4}, b.y().shape());
    assertEquals(DType.INT32, b.y().dtype());

    var rank1Labels = new Computed(3, i -> new Example(Tensor.of(new float[] {i}, 1), Tensor.labels(i)));
    Batch c = new DataLoader<>(rank1Labels, 3, false).iterator().next();
    assertArrayEquals(new int[] {3}, c.y().shape());
    assertArrayEquals(new int[] {0, 1, 2}, c.y().toIntArray());

    var regression = new Computed(3, i -> new Example(Tensor.of(new float[] {i}, 1), Tensor.of(new float[] {i, 2 * i}, 2)));
    Batch r = new DataLoader<>(regression, 3, false).iterator().next();
    assertArrayEquals(new int[] {3, 2}, r.y().shape());
    assertEquals(DType.FLOAT32, r.y().dtype());
    assertEquals(4f, r.y().get(2, 1));
  }

  @Test
  void mismatchingShapesNameTheSamplesAndShapes() {
    var ragged = new Computed(4, i -> new Example(
        Tensor.zeros(1, i == 2 ? 27 : 28, 28), Tensor.wrap(new float[] {0}, DType.INT32)));
    var e = assertThrows(IllegalArgumentException.class, () -> {
      for (Batch b : new DataLoader<>(ragged, 4, false)) {
        b.size();
      }
    });
    assertTrue(e.getMessage().contains("sample 2"), e.getMessage());
    assertTrue(e.getMessage().contains("[1, 27, 28]") && e.getMessage().contains("[1, 28, 28]"), e.getMessage());
    assertTrue(e.getMessage().contains("sample 0"), e.getMessage());

    var mixedTargets = new Computed(2, i -> new Example(
        Tensor.zeros(2), i == 0 ? Tensor.wrap(new float[] {0}, DType.INT32) : Tensor.scalar(1f)));
    var t = assertThrows(IllegalArgumentException.class, () -> new DataLoader<>(mixedTargets, 2, false).iterator().next());
    assertTrue(t.getMessage().contains("its y is FLOAT32 []") && t.getMessage().contains("INT32 []"), t.getMessage());
  }

  @Test
  void batchChecksItsDimensions() {
    var e = assertThrows(IllegalArgumentException.class, () -> new Batch(Tensor.zeros(4, 2), Tensor.labels(1, 2, 3)));
    assertTrue(e.getMessage().contains("[4, 2]") && e.getMessage().contains("[3]"), e.getMessage());
  }

  /** tqdm(loader): the same batches as the loader, a bar redrawn after each batch's work, cleared at the end. */
  @Test
  void withProgressDrawsABarOverTheSameBatches() {
    DataLoader<Example> loader = new DataLoader<>(numbered(10), 4, true);
    Kiln.manualSeed(5);
    List<int[]> plain = new ArrayList<>();
    for (Batch b : loader) {
      plain.add(b.y().toIntArray());
    }
    var bytes = new java.io.ByteArrayOutputStream();
    var out = new java.io.PrintStream(bytes, true, java.nio.charset.StandardCharsets.UTF_8);
    Kiln.manualSeed(5);
    List<int[]> drawn = new ArrayList<>();
    List<String> seen = new ArrayList<>();
    for (Batch b : loader.withProgress("epoch 1", out, true)) {
      seen.add(bytes.toString(java.nio.charset.StandardCharsets.UTF_8));
      drawn.add(b.y().toIntArray());
    }
    assertEquals(plain.size(), drawn.size());
    for (int i = 0; i < plain.size(); i++) {
      assertArrayEquals(plain.get(i), drawn.get(i), "batch " + i);
    }
    assertEquals("", seen.get(0), "nothing is done before the first batch's work");
    assertTrue(seen.get(1).contains("epoch 1 |") && seen.get(1).contains("1/3"), seen.get(1));
    assertFalse(seen.get(1).contains("loss"), "no loss was given: " + seen.get(1));
    String all = bytes.toString(java.nio.charset.StandardCharsets.UTF_8);
    assertTrue(all.contains("3/3"), all);
    assertTrue(all.endsWith("\r"), "the line is cleared at the end: " + all);

    bytes.reset();
    int batches = 0;
    for (Batch b : loader.withProgress("quiet", out, false)) {
      batches++;
    }
    assertEquals(3, batches);
    assertEquals("", bytes.toString(java.nio.charset.StandardCharsets.UTF_8), "nothing printed when not a terminal");

    // next() alone (no hasNext), hasNext() asked twice: each batch counted once, then the end.
    bytes.reset();
    Iterator<Batch> it = loader.withProgress("manual", out, true).iterator();
    it.next();
    assertTrue(it.hasNext());
    assertTrue(it.hasNext());
    it.next();
    it.next();
    assertFalse(it.hasNext());
    assertFalse(it.hasNext());
    String manual = bytes.toString(java.nio.charset.StandardCharsets.UTF_8);
    assertTrue(manual.contains("3/3") && !manual.contains("4/3"), manual);
    assertThrows(NoSuchElementException.class, it::next);
  }

  /** A custom dataset's mistakes are named: a null example, a negative size. */
  @Test
  void aBrokenCustomDatasetIsNamed() {
    TensorDataset good = numbered(4);
    Dataset<Example> nulls = new Dataset<>() {
      @Override
      public int size() {
        return 4;
      }

      @Override
      public Example get(int index) {
        return index == 2 ? null : good.get(index);
      }
    };
    var e = assertThrows(IllegalStateException.class, () -> new DataLoader<>(nulls, 4, false).iterator().next());
    assertTrue(e.getMessage().startsWith("DataLoader: dataset.get(2) returned null"), e.getMessage());
    Dataset<Example> negative = new Dataset<>() {
      @Override
      public int size() {
        return -1;
      }

      @Override
      public Example get(int index) {
        return good.get(index);
      }
    };
    var size = assertThrows(IllegalStateException.class, () -> new DataLoader<>(negative, 4, false));
    assertTrue(size.getMessage().endsWith(".size() returned -1"), size.getMessage());
  }

  /** A collate function (PyTorch's collate_fn) builds each batch from its examples: variable-length sequences padded per batch. */
  @Test
  void collatePadsSequencesPerBatch() {
    Dataset<Example> sentences = new Dataset<>() {
      @Override
      public int size() {
        return 5;
      }

      @Override
      public Example get(int i) { // sequence i has i + 1 tokens of 2 features, and i + 1 targets
        float[] x = new float[(i + 1) * 2];
        Arrays.fill(x, i + 1);
        int[] y = new int[i + 1];
        Arrays.fill(y, i);
        return new Example(Tensor.of(x, i + 1, 2), Tensor.labels(y));
      }
    };
    var loader = new DataLoader<>(sentences, 2, false).collate(samples -> new Batch(
        Tensor.padSequence(samples.stream().map(Example::x).toList(), true, 0f),
        Tensor.padSequence(samples.stream().map(Example::y).toList(), true, -100)));
    List<Batch> batches = new ArrayList<>();
    loader.forEach(batches::add);
    assertEquals(3, batches.size());
    assertArrayEquals(new int[] {2, 2, 2}, batches.get(0).x().shape(), "sequences of 1 and 2 tokens, padded to 2");
    assertArrayEquals(new int[] {0, -100, 1, 1}, batches.get(0).y().toIntArray());
    assertArrayEquals(new int[] {2, 4, 2}, batches.get(1).x().shape());
    assertArrayEquals(new int[] {1, 5, 2}, batches.get(2).x().shape(), "the last batch, one sequence of 5");
    assertEquals(5, loader.datasetSize());
  }
}
