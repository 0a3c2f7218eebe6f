package dev.kiln.runtime.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kiln.runtime.Kiln;
import dev.kiln.runtime.Tensor;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;

class SubsetTest {
  /** Ten rows; row i holds the values i and 10 + i, and label i. */
  private final TensorDataset data = new TensorDataset(rows(), Tensor.labels(0, 1, 2, 3, 4, 5, 6, 7, 8, 9));

  private static Tensor rows() {
    float[] v = new float[20];
    for (int i = 0; i < 10; i++) {
      v[2 * i] = i;
      v[2 * i + 1] = 10 + i;
    }
    return Tensor.of(v, 10, 2);
  }

  @Test
  void ofViewsTheChosenSamplesInOrder() {
    var s = Subset.of(data, 7, 2, 7);
    assertEquals(3, s.size());
    assertEquals(2f, s.get(1).y().item());
    assertArrayEquals(new float[] {7, 17}, s.get(2).x().toFloatArray());
    Batch b = s.gather(new int[] {1, 0});
    assertArrayEquals(new float[] {2, 12, 7, 17}, b.x().toFloatArray());
    assertArrayEquals(new int[] {2, 7}, b.y().toIntArray());
  }

  @Test
  void aSubsetOfADatasetWithoutGatherIsStacked() {
    Dataset<Example> plain = new Dataset<>() {
      @Override
      public int size() {
        return data.size();
      }

      @Override
      public Example get(int index) {
        return data.get(index);
      }
    };
    var loader = new DataLoader<>(Subset.of(plain, 3, 5), 2, false);
    Batch b = loader.iterator().next();
    assertArrayEquals(new float[] {3, 13, 5, 15}, b.x().toFloatArray());
    assertArrayEquals(new int[] {3, 5}, b.y().toIntArray());
  }

  @Test
  void firstTakesAPrefixAndALoaderIteratesIt() {
    var s = Subset.first(data, 4);
    List<Integer> seen = new ArrayList<>();
    Kiln.manualSeed(3);
    for (Batch b : new DataLoader<>(s, 3, true)) {
      Arrays.stream(b.y().toIntArray()).forEach(seen::add);
    }
    seen.sort(null);
    assertEquals(List.of(0, 1, 2, 3), seen);
    assertEquals(0, Subset.first(data, 0).size());
  }

  @Test
  void randomSplitPartitionsTheDatasetReproducibly() {
    Kiln.manualSeed(11);
    var parts = Subset.randomSplit(data, 6, 4);
    assertEquals(6, parts.get(0).size());
    assertEquals(4, parts.get(1).size());
    int[] all = new int[10];
    System.arraycopy(parts.get(0).indices(), 0, all, 0, 6);
    System.arraycopy(parts.get(1).indices(), 0, all, 6, 4);
    int[] sorted = all.clone();
    Arrays.sort(sorted);
    assertArrayEquals(new int[] {0, 1, 2, 3, 4, 5, 6, 7, 8, 9}, sorted, "every sample exactly once");
    assertNotEquals(Arrays.toString(new int[] {0, 1, 2, 3, 4, 5, 6, 7, 8, 9}), Arrays.toString(all), "shuffled");

    Kiln.manualSeed(11);
    var again = Subset.randomSplit(data, 6, 4);
    assertArrayEquals(parts.get(0).indices(), again.get(0).indices());
    for (int i = 0; i < 6; i++) { // the subset's sample is the dataset's sample at its index
      assertEquals((float) parts.get(0).indices()[i], parts.get(0).get(i).y().item());
    }
  }

  /** Fractions as PyTorch 1.13's random_split: floor(size * fraction) each, the rest one by one from the first part. */
  @Test
  void randomSplitByFractions() {
    Kiln.manualSeed(11);
    var parts = Subset.randomSplit(data, 0.8, 0.2);
    assertEquals(8, parts.get(0).size());
    assertEquals(2, parts.get(1).size());
    var thirds = Subset.randomSplit(data, 1 / 3.0, 1 / 3.0, 1 / 3.0); // 3 + 3 + 3, one left: to the first
    assertEquals(List.of(4, 3, 3), thirds.stream().map(Subset::size).toList());
    var e = assertThrows(IllegalArgumentException.class, () -> Subset.randomSplit(data, 0.5, 0.4));
    assertTrue(e.getMessage().contains("add up to 0.9"), e.getMessage());
    assertThrows(IllegalArgumentException.class, () -> Subset.randomSplit(data, 1.5, -0.5));
  }

  @Test
  void badArgumentsAreNamed() {
    var e = assertThrows(IndexOutOfBoundsException.class, () -> Subset.of(data, 1, 10));
    assertTrue(e.getMessage().contains("indices[1] = 10") && e.getMessage().contains("10 samples"), e.getMessage());
    var f = assertThrows(IllegalArgumentException.class, () -> Subset.first(data, 11));
    assertTrue(f.getMessage().contains("0..10") && f.getMessage().contains("11"), f.getMessage());
    var g = assertThrows(IllegalArgumentException.class, () -> Subset.randomSplit(data, 6, 5));
    assertTrue(g.getMessage().contains("[6, 5]") && g.getMessage().contains("add up to 11"), g.getMessage());
    assertThrows(IllegalArgumentException.class, () -> Subset.randomSplit(data, 12, -2));
    assertThrows(IndexOutOfBoundsException.class, () -> Subset.of(data, 1, 2).get(2));
    assertThrows(IndexOutOfBoundsException.class, () -> Subset.of(data, 1, 2).gather(new int[] {0, 2}));
    Dataset<String> words = new Dataset<>() {
      @Override
      public int size() {
        return 2;
      }

      @Override
      public String get(int index) {
        return "w" + index;
      }
    };
    var u = assertThrows(UnsupportedOperationException.class, () -> Subset.of(words, 0).gather(new int[] {0}));
    assertTrue(u.getMessage().contains("not Examples") && u.getMessage().contains("java.lang.String"), u.getMessage());
  }
}
