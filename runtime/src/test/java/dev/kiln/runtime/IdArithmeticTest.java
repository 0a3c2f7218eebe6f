package dev.kiln.runtime;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * Integer arithmetic of ids ({@link DType#INT32}: labels, argmax's indices) against PyTorch 1.13's int64 results (written
 * from it): {@code +}, {@code -}, {@code *}, {@code //}, {@code %} with negative operands, broadcasting, type promotion to
 * floats, the ops that keep ids (neg, abs, clamp, max, where, cat), errors, and ids so computed feeding an embedding, a
 * loss and a gather.
 */
class IdArithmeticTest {
  private static final Tensor A = Tensor.labels(7, -7, 7, -7, 0, 5);
  private static final Tensor B = Tensor.labels(2, 2, -2, -2, 3, -3);

  private static void assertIds(float[] expected, int[] shape, Tensor t) {
    assertEquals(DType.INT32, t.dtype(), "dtype");
    assertArrayEquals(shape, t.shape(), "shape");
    assertArrayEquals(expected, t.toFloatArray());
  }

  private static void assertFloats(float[] expected, Tensor t) {
    assertEquals(DType.FLOAT32, t.dtype(), "dtype");
    assertArrayEquals(expected, t.toFloatArray(), 1e-6f);
  }

  @Test
  void floorDivisionAndRemainderAsPyTorchsWithNegativeOperands() {
    // a // b, a % b: the quotient toward minus infinity, the remainder with the divisor's sign
    assertIds(new float[] {3, -4, -4, 3, 0, -2}, new int[] {6}, A.floorDivide(B));
    assertIds(new float[] {1, 1, -1, -1, 0, -1}, new int[] {6}, A.remainder(B));
    assertIds(new float[] {3, -4, 3, -4, 0, 2}, new int[] {6}, A.floorDivide(2));
    assertIds(new float[] {1, 2, 1, 2, 0, 2}, new int[] {6}, A.remainder(3));
    assertIds(new float[] {-2, 1, -2, 1, 0, -2}, new int[] {6}, A.floorDivide(-4));
    assertIds(new float[] {-1, -3, -1, -3, 0, -3}, new int[] {6}, A.remainder(-4));
    Tensor rows = A.reshape(2, 3), divisors = Tensor.labels(2, -3, 4); // broadcast over the rows
    assertIds(new float[] {3, 2, 1, -4, 0, 1}, new int[] {2, 3}, rows.floorDivide(divisors));
    assertIds(new float[] {1, -1, 3, 1, 0, 1}, new int[] {2, 3}, rows.remainder(divisors));
  }

  @Test
  void addSubMulOfIdsAreIds() {
    assertIds(new float[] {8, -6, 8, -6, 1, 6}, new int[] {6}, A.add(1));
    assertIds(new float[] {5, -9, 9, -5, -3, 8}, new int[] {6}, A.sub(B));
    assertIds(new float[] {14, -14, 14, -14, 0, 10}, new int[] {6}, A.mul(2));
    assertIds(new float[] {2, 0, 2, 0, 1, 1}, new int[] {6}, A.mul(3).add(1).remainder(5)); // (a * 3 + 1) % 5
    assertIds(new float[] {6, 0, 6, 0, 0, 4}, new int[] {6}, A.sub(1).clampMin(0)); // (a - 1).clamp(min=0)
    assertIds(new float[] {17, 27, 3, 13, 17, 27, 3, 13, 10, 20, 15, 25}, new int[] {6, 2},
        A.reshape(6, 1).add(Tensor.labels(10, 20))); // [6, 1] + [2]
    assertIds(new float[] {14, -14, -14, 14, 0, -15}, new int[] {6}, A.mul(B));
    assertIds(new float[] {5, -9, 5, -9, -2, 3}, new int[] {6}, A.sub(2));
  }

  @Test
  void unaryOpsClampMaxMinWhereCatAndExpandKeepIds() {
    assertIds(new float[] {-7, 7, -7, 7, 0, -5}, new int[] {6}, A.neg());
    assertIds(new float[] {7, 7, 7, 7, 0, 5}, new int[] {6}, A.abs());
    assertIds(new float[] {5, 0, 5, 0, 0, 5}, new int[] {6}, A.clamp(0, 5));
    assertIds(new float[] {5, -7, 5, -7, 0, 5}, new int[] {6}, A.clampMax(5));
    assertIds(new float[] {7}, new int[0], A.max());
    assertIds(new float[] {-7}, new int[0], A.min());
    ValuesAndIndices least = A.reshape(2, 3).min(1);
    assertIds(new float[] {-7, -7}, new int[] {2}, least.values());
    assertIds(new float[] {1, 0}, new int[] {2}, least.indices());
    assertIds(new float[] {7, 2, 7, -2, 3, 5}, new int[] {6}, Tensor.where(A.gt(0), A, B));
    assertIds(new float[] {7, -7, 7, -7, 0, 5, 2, 2, -2, -2, 3, -3}, new int[] {12}, Tensor.cat(List.of(A, B), 0));
    assertIds(new float[] {7, 2, -7, 2}, new int[] {2, 2}, Tensor.stack(List.of(A.narrow(0, 0, 2), B.narrow(0, 0, 2)), 1));
    assertIds(new float[] {7, -7, 7, -7}, new int[] {2, 2}, A.narrow(0, 0, 2).reshape(1, 2).expand(2, 2));
    Tensor grid = A.reshape(2, 3);
    assertIds(new float[] {7, -7, -7, 0, 7, 5}, new int[] {3, 2}, grid.t());
    assertIds(new float[] {7, -7, -7, 0, 7, 5}, new int[] {3, 2}, grid.transpose(0, 1));
    assertIds(new float[] {7, -7, 7, 5, 0, -7}, new int[] {2, 3}, grid.flip(1));
    assertIds(new float[] {7, -7, 7, 7, -7, 7}, new int[] {6}, A.narrow(0, 0, 3).repeat(2));
    assertIds(new float[] {7, 7, -7, 5}, new int[] {2, 2}, grid.indexSelect(1, Tensor.labels(0, 2)));
    assertIds(new float[] {-7, 0}, new int[] {2, 1}, grid.gather(1, Tensor.labels(1, 1).reshape(2, 1)));
    // comparisons are masks as for floats
    assertFloats(new float[] {0, 0, 0, 0, 1, 0}, A.eq(0));
  }

  @Test
  void trueDivisionAndFloatOperandsPromoteToFloats() {
    assertFloats(new float[] {3.5f, -3.5f, -3.5f, 3.5f, 0, -5 / 3f}, A.div(B));
    assertFloats(new float[] {3.5f, -3.5f, 3.5f, -3.5f, 0, 2.5f}, A.div(2));
    assertFloats(new float[] {8.5f, -5.5f, 8.5f, -5.5f, 1.5f, 6.5f}, A.add(1.5f));
    assertFloats(new float[] {3.5f, -3.5f, 3.5f, -3.5f, 0, 2.5f}, A.mul(0.5));
    assertFloats(new float[] {7.5f, -6.5f, 7.5f, -6.5f, 0.5f, 5.5f}, A.add(Tensor.full(0.5f, 6)));
    assertFloats(new float[] {5, 0.5f, 5, 0.5f, 0.5f, 5}, A.clamp(0.5f, 5f)); // float bounds: floats, as PyTorch's
    assertFloats(new float[] {7, 0.5f, 7, 0.5f, 0.5f, 5}, Tensor.where(A.gt(0), A, Tensor.full(0.5f, 6)));
    assertFloats(new float[] {7, -7, 0.5f}, Tensor.cat(List.of(A.narrow(0, 0, 2), Tensor.full(0.5f, 1)), 0));
    assertFloats(new float[] {7, -7, 7, -7, 0, 5}, A.toFloat());
  }

  @Test
  void floatSideOfAMixedOpGetsItsGradient() {
    Tensor x = Tensor.of(new float[] {1, 2, 3, 4, 5, 6}, 6).requiresGrad(true);
    x.mul(A).add(x.sub(B)).sum().backward(); // d/dx: a + 1
    assertFloats(new float[] {8, -6, 8, -6, 1, 6}, x.grad());
    Tensor w = Tensor.of(new float[] {1, 1, 1, 1, 1, 1}, 6).requiresGrad(true);
    Tensor.where(A.gt(0), w, A).sum().backward(); // the float branch where taken
    assertFloats(new float[] {1, 0, 1, 0, 0, 1}, w.grad());
  }

  @Test
  void floatTensorsTakeIntConstantsAsBefore() {
    Tensor x = Tensor.of(new float[] {-1.5f, 0.25f, 3}, 3).requiresGrad(true);
    assertArrayEquals(x.add(1f).toFloatArray(), x.add(1).toFloatArray());
    assertArrayEquals(x.sub(2f).toFloatArray(), x.sub(2).toFloatArray());
    assertArrayEquals(x.mul(3f).toFloatArray(), x.mul(3).toFloatArray());
    assertArrayEquals(x.clamp(0f, 1f).toFloatArray(), x.clamp(0, 1).toFloatArray());
    x.add(1).mul(3).clampMin(0).sum().backward();
    assertFloats(new float[] {0, 3, 3}, x.grad());
  }

  @Test
  void errorsNameTheOp() {
    IllegalArgumentException big = assertThrows(IllegalArgumentException.class, () -> Tensor.labels(1 << 23, 1).mul(3));
    assertTrue(big.getMessage().startsWith("mul: the result 25165824 at flat position 0 is out of the range ids hold exactly"),
        big.getMessage());
    assertTrue(assertThrows(IllegalArgumentException.class, () -> Tensor.labels(1 << 24).add(1)).getMessage()
        .contains("16777217"));
    assertEquals("floor_divide: integer division by zero",
        assertThrows(IllegalArgumentException.class, () -> A.floorDivide(0)).getMessage());
    assertEquals("remainder: integer division by zero (the divisor at flat position 1 is 0)",
        assertThrows(IllegalArgumentException.class, () -> A.remainder(Tensor.labels(1, 0, 1, 1, 1, 1))).getMessage());
    assertEquals("floor_divide: Kiln takes ids (int32 tensors) only, got a float tensor of shape [2]",
        assertThrows(IllegalArgumentException.class, () -> Tensor.ones(2).floorDivide(2)).getMessage());
    assertEquals("remainder: Kiln takes ids (int32 tensors) only, got a float tensor of shape [6]",
        assertThrows(IllegalArgumentException.class, () -> A.remainder(Tensor.ones(6))).getMessage());
    assertTrue(assertThrows(IllegalArgumentException.class, () -> A.add(Tensor.labels(1, 2))).getMessage().startsWith("add"));
    assertThrows(IllegalStateException.class, () -> A.add(1).requiresGrad(true)); // ids never take a gradient
  }

  @Test
  void computedIdsFeedEmbeddingLossAndGather() {
    Tensor weight = Tensor.arange(12).reshape(6, 2).requiresGrad(true);
    Tensor rows = Ops.embedding(A.remainder(6).abs(), weight, -1); // ids 1, 5, 1, 5, 0, 5
    assertFloats(new float[] {2, 3, 10, 11, 2, 3, 10, 11, 0, 1, 10, 11}, rows);
    rows.sum().backward();
    assertFloats(new float[] {1, 1, 2, 2, 0, 0, 0, 0, 0, 0, 3, 3}, weight.grad());

    Tensor logits = Tensor.of(new float[] {0, 1, 2, 2, 1, 0}, 2, 3);
    Tensor shifted = Tensor.labels(1, 0).add(1); // the classes 2 and 1
    Tensor loss = Ops.crossEntropy(logits, shifted, true);
    Tensor reference = Ops.crossEntropy(logits, Tensor.labels(2, 1), true);
    assertEquals(reference.item(), loss.item());

    Tensor picked = logits.gather(1, logits.argmax(1, true).add(1).remainder(3)); // the class after each maximum
    assertFloats(new float[] {0, 1}, picked);
    assertFloats(new float[] {0, 2, 2, 0}, logits.indexSelect(1, Tensor.labels(3, 4).sub(3).mul(2))); // columns 0 and 2
  }
}
