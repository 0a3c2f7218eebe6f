package dev.kiln.runtime.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kiln.runtime.DType;
import dev.kiln.runtime.Tensor;
import org.junit.jupiter.api.Test;

class TensorDatasetTest {
  private final TensorDataset data = new TensorDataset(
      Tensor.of(new float[] {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}, 3, 2, 2), Tensor.labels(7, 8, 9));

  @Test
  void getSlicesOneRow() {
    assertEquals(3, data.size());
    Example e = data.get(1);
    assertArrayEquals(new int[] {2, 2}, e.x().shape());
    assertArrayEquals(new float[] {4, 5, 6, 7}, e.x().toFloatArray());
    assertArrayEquals(new int[0], e.y().shape());
    assertEquals(DType.INT32, e.y().dtype());
    assertEquals(8f, e.y().item());
  }

  @Test
  void gatherCopiesRowsInTheGivenOrder() {
    Batch b = data.gather(new int[] {2, 0});
    assertArrayEquals(new int[] {2, 2, 2}, b.x().shape());
    assertArrayEquals(new float[] {8, 9, 10, 11, 0, 1, 2, 3}, b.x().toFloatArray());
    assertArrayEquals(new int[] {9, 7}, b.y().toIntArray());
    assertEquals(DType.INT32, b.y().dtype());
  }

  /** Labels of one value per sample gather as [B], as a plain Dataset's samples stack: the loader's shape does not depend on the dataset class. */
  @Test
  void oneLabelPerSampleGathersAsAVectorAsStackingDoes() {
    TensorDataset columns = new TensorDataset(Tensor.zeros(4, 2), Tensor.labels(1, 0, 3, 2).reshape(4, 1));
    assertArrayEquals(new int[] {1}, columns.get(0).y().shape());
    Batch b = columns.gather(new int[] {3, 1});
    assertArrayEquals(new int[] {2}, b.y().shape());
    assertArrayEquals(new float[] {2, 0}, b.y().toFloatArray());
    Dataset<Example> plain = new Dataset<>() {
      @Override public int size() {
        return 4;
      }

      @Override public Example get(int i) {
        return columns.get(i);
      }
    };
    assertArrayEquals(b.y().shape(), new DataLoader<>(plain, 2, false).iterator().next().y().shape());
  }

  @Test
  void indicesOutsideTheDatasetAreRejected() {
    assertThrows(IndexOutOfBoundsException.class, () -> data.get(3));
    assertThrows(IndexOutOfBoundsException.class, () -> data.gather(new int[] {0, -1}));
  }

  @Test
  void firstDimensionsMustAgree() {
    var e = assertThrows(IllegalArgumentException.class,
        () -> new TensorDataset(Tensor.zeros(100, 4), Tensor.labels(new int[99])));
    assertTrue(e.getMessage().contains("[100, 4]") && e.getMessage().contains("[99]"), e.getMessage());
    assertThrows(IllegalArgumentException.class, () -> new TensorDataset(Tensor.scalar(1), Tensor.scalar(1)));
  }
}
