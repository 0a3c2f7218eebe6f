package dev.kiln.runtime;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/**
 * Ids ({@link DType#INT32}) through sums and the ops that move values (pad, roll, flip, narrow, where), against PyTorch
 * 1.13's int64 results (written from it): each gives ids, the pad value cast to an id as PyTorch casts it, a sum past
 * 2^24 and float-only ops refused naming the op and the type.
 */
class IdMovesTest {
  private static final Tensor IDS = Tensor.labels(1, 2, 3, 4, 5, 6, 7, 8).view(2, 4);

  private static void assertIds(float[] expected, int[] shape, Tensor t) {
    assertEquals(DType.INT32, t.dtype(), "dtype");
    assertArrayEquals(shape, t.shape(), "shape");
    assertArrayEquals(expected, t.toFloatArray());
  }

  @Test
  void sumsOfIdsAreIdsAsPyTorchsInt64Sums() {
    assertIds(new float[] {36}, new int[0], IDS.sum());
    assertIds(new float[] {10, 26}, new int[] {2}, IDS.sum(1));
    assertIds(new float[] {6, 8, 10, 12}, new int[] {1, 4}, IDS.sum(0, true));
    assertIds(new float[] {36}, new int[0], IDS.sum(new int[] {0, 1}));
    assertIds(new float[] {36}, new int[] {1, 1}, IDS.sum(new int[] {}, true)); // none: every dimension
    assertIds(new float[] {-3, 4}, new int[] {2}, Tensor.labels(-7, 4, 4, 0).view(2, 2).sum(0)); // negative ids
    // the partial sums pass 2^24, the total does not: computed in 64 bits, as PyTorch's int64
    assertIds(new float[] {1}, new int[0], Tensor.labels(1 << 24, 1 << 24, -(1 << 24), -(1 << 24) + 1).sum());
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Tensor.labels(1 << 24, 1).sum());
    assertEquals("sum: the result 16777217 at flat position 0 is out of the range ids hold exactly (|id| <= 2^24 = 16777216,"
        + " Kiln stores int32 values as floats)", e.getMessage());
    e = assertThrows(IllegalArgumentException.class, () -> IDS.sum(2));
    assertTrue(e.getMessage().startsWith("sum of shape [2, 4]: "), e.getMessage());
  }

  @Test
  void padOfIdsPadsWithTheValueAsAnId() {
    assertIds(new float[] {0, 1, 2, 3, 4, 0, 5, 6, 7, 8}, new int[] {2, 5}, Ops.pad(IDS, new int[] {1, 0}, 0)); // a start token
    // F.pad(ids, (1, 0), value=-1.7): PyTorch casts the value to int64, toward zero
    assertIds(new float[] {-1, 1, 2, 3, 4, -1, 5, 6, 7, 8}, new int[] {2, 5}, Ops.pad(IDS, new int[] {1, 0}, -1.7f));
    assertIds(new float[] {0, 1, 2, 3, 4, 0, 5, 6, 7, 8}, new int[] {2, 5}, Ops.pad(IDS, new int[] {1, 0}, 0.5f));
    assertIds(new float[] {2, 3, 4, 9, 6, 7, 8, 9}, new int[] {2, 4}, Ops.pad(IDS, new int[] {-1, 1}, 9)); // a crop and a pad
    assertIds(new float[] {-3, -3, -3, -3, -3, -3, 1, 2, 3, 4, -3, -3, 5, 6, 7, 8, -3, -3}, new int[] {3, 6},
        Ops.pad(IDS, new int[] {0, 2, 1, 0}, -3));
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Ops.pad(IDS, new int[] {1, 0}, Float.NaN));
    assertEquals("pad: the value NaN pads ids (int32, PyTorch's int64), which hold whole numbers of at most 2^24 in magnitude;"
        + " got shape [2, 4]", e.getMessage());
    assertThrows(IllegalArgumentException.class, () -> Ops.pad(IDS, new int[] {1, 0}, 3e7f));
    e = assertThrows(IllegalArgumentException.class, () -> Ops.pad(IDS, new int[] {1}, 0));
    assertTrue(e.getMessage().startsWith("pad: padding length must be divisible by 2"), e.getMessage());
  }

  @Test
  void rollFlipNarrowAndWhereMoveIds() {
    assertIds(new float[] {4, 1, 2, 3, 8, 5, 6, 7}, new int[] {2, 4}, IDS.roll(1, 1));
    assertIds(new float[] {6, 7, 8, 5, 2, 3, 4, 1}, new int[] {2, 4}, IDS.roll(new int[] {1, -1}, new int[] {0, 1}));
    assertIds(new float[] {6, 7, 8, 1, 2, 3, 4, 5}, new int[] {2, 4}, IDS.roll(3)); // flattened
    assertIds(new float[] {4, 3, 2, 1, 8, 7, 6, 5}, new int[] {2, 4}, IDS.flip(1));
    assertIds(new float[] {8, 7, 6, 5, 4, 3, 2, 1}, new int[] {2, 4}, IDS.flip(0, 1));
    assertIds(new float[] {2, 3, 6, 7}, new int[] {2, 2}, IDS.narrow(1, 1, 2));
    assertIds(new float[] {5, 6, 7, 8}, new int[] {1, 4}, IDS.narrow(0, -1, 1));
    assertIds(new float[] {0, 0, 3, 0, 0, 0, 0, 0}, new int[] {2, 4},
        Tensor.where(IDS.eq(3), IDS, Tensor.labels(new int[8]).view(2, 4)));
    Tensor x = Tensor.of(new float[] {0.5f, 1.5f, 2.5f, 3.5f, 4.5f, 5.5f, 6.5f, 7.5f}, 2, 4);
    Tensor promoted = Tensor.where(IDS.gt(4), IDS, x); // ids with floats: floats, as PyTorch promotes
    assertEquals(DType.FLOAT32, promoted.dtype());
    assertArrayEquals(new float[] {0.5f, 1.5f, 2.5f, 3.5f, 5, 6, 7, 8}, promoted.toFloatArray());
    // shifted right with a start token, then looked up: ids all the way
    Tensor shifted = Ops.pad(IDS, new int[] {1, 0}, 0).narrow(1, 0, 4);
    assertIds(new float[] {0, 1, 2, 3, 0, 5, 6, 7}, new int[] {2, 4}, shifted);
    assertArrayEquals(new int[] {2, 4, 3}, Ops.embedding(shifted, Tensor.randn(9, 3), -1).shape());
  }

  @Test
  void maskedFillTrilAndTriuOfIdsAreIds() {
    Tensor ids = Tensor.labels(1, 2, 3, 4, 5, 6).view(2, 3);
    // ids.masked_fill(ids > 4, -1.7): int64, the value cast toward zero
    assertIds(new float[] {1, 2, 3, 4, -1, -1}, new int[] {2, 3}, ids.maskedFill(ids.gt(4), -1.7f));
    assertIds(new float[] {1, 0, 0, 4, 5, 0}, new int[] {2, 3}, ids.tril(0));
    assertIds(new float[] {0, 2, 3, 0, 0, 6}, new int[] {2, 3}, ids.triu(1));
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> ids.maskedFill(ids.gt(4), Float.POSITIVE_INFINITY));
    assertTrue(e.getMessage().startsWith("masked_fill: the value Infinity fills ids"), e.getMessage());
  }

  @Test
  void floatOnlyOpsOfIdsNameTheOpAndTheType() {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> IDS.mean());
    assertEquals("mean: expected a float tensor, got INT32 of shape [2, 4]", e.getMessage());
    e = assertThrows(IllegalArgumentException.class, () -> IDS.mean(1));
    assertEquals("mean: expected a float tensor, got INT32 of shape [2, 4]", e.getMessage());
  }
}
