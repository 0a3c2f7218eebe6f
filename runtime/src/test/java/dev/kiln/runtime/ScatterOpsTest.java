package dev.kiln.runtime;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * scatter, scatter_add, index_add, index_copy, index_fill, masked_select, nonzero and roll: values
 * against PyTorch 1.13's (written out below), gradients against finite differences, and errors.
 */
class ScatterOpsTest {
  private static final double EPS = 1e-2;
  private static final double ATOL = 2e-3;
  private static final double RTOL = 2e-3;

  @BeforeEach
  void seed() {
    Kiln.manualSeed(29);
  }

  private static Tensor arange12() {
    return Tensor.arange(12).reshape(3, 4);
  }

  private static Tensor ids(int[] shape, int... v) {
    return Tensor.labels(v).reshape(shape);
  }

  @Test
  void scattersAsPyTorch() {
    Tensor x = Tensor.of(new float[] {1, 2, 3, 4, 5, 6}, 2, 3);
    // torch.zeros(2, 3).scatter(0, [[0, 1, 0], [1, 0, 1]], x) = [[1, 5, 3], [4, 2, 6]]
    assertArrayEquals(new float[] {1, 5, 3, 4, 2, 6}, Tensor.zeros(2, 3).scatter(0, ids(new int[] {2, 3}, 0, 1, 0, 1, 0, 1), x).toFloatArray());
    // scatter_add with duplicates: [[0, 0, 0], [0, 1, 1]] gives [[5, 2, 3], [0, 5, 6]]
    assertArrayEquals(new float[] {5, 2, 3, 0, 5, 6},
        Tensor.zeros(2, 3).scatterAdd(0, ids(new int[] {2, 3}, 0, 0, 0, 0, 1, 1), x).toFloatArray());
    // scatter(1, [[2], [0]], 7) = [[0, 0, 7], [7, 0, 0]]
    assertArrayEquals(new float[] {0, 0, 7, 7, 0, 0}, Tensor.zeros(2, 3).scatter(1, ids(new int[] {2, 1}, 2, 0), 7f).toFloatArray());
  }

  @Test
  void indexWritesAsPyTorch() {
    // arange(12).reshape(3, 4).index_add(0, [0, 2, 0], ones(3, 4), alpha=2)
    assertArrayEquals(new float[] {4, 5, 6, 7, 4, 5, 6, 7, 10, 11, 12, 13},
        arange12().indexAdd(0, Tensor.labels(0, 2, 0), Tensor.ones(3, 4), 2f).toFloatArray());
    assertArrayEquals(new float[] {-1, 1, 2, -1, -1, 5, 6, -1, -1, 9, 10, -1},
        arange12().indexCopy(1, Tensor.labels(3, 0), Tensor.full(-1f, 3, 2)).toFloatArray());
    assertArrayEquals(new float[] {0, 9, 2, 9, 4, 9, 6, 9, 8, 9, 10, 9}, arange12().indexFill(1, Tensor.labels(1, 3), 9f).toFloatArray());
    assertArrayEquals(new float[] {0, 9, 2, 9, 4, 9, 6, 9, 8, 9, 10, 9}, arange12().indexFill(-1, Tensor.labels(-3, -1), 9f).toFloatArray());
  }

  @Test
  void selectsAndRolls() {
    assertArrayEquals(new float[] {0, 2, 4, 6, 8, 10}, arange12().maskedSelect(Tensor.of(new float[] {1, 0, 1, 0}, 4)).toFloatArray());
    Tensor nz = Tensor.of(new float[] {0, 1, 2, 0}, 2, 2).nonzero();
    assertEquals(DType.INT32, nz.dtype());
    assertArrayEquals(new int[] {2, 2}, nz.shape());
    assertArrayEquals(new int[] {0, 1, 1, 0}, nz.toIntArray());
    assertArrayEquals(new int[] {0, 0}, Tensor.scalar(0f).nonzero().shape()); // PyTorch's shapes for rank 0
    assertArrayEquals(new int[] {1, 0}, Tensor.scalar(3f).nonzero().shape());
    assertArrayEquals(new float[] {11, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, arange12().roll(1).toFloatArray());
    assertArrayEquals(new float[] {1, 2, 3, 0, 5, 6, 7, 4, 9, 10, 11, 8}, arange12().roll(-1, 1).toFloatArray());
    assertArrayEquals(new float[] {10, 11, 8, 9, 2, 3, 0, 1, 6, 7, 4, 5}, arange12().roll(new int[] {1, 2}, new int[] {0, 1}).toFloatArray());
  }

  @Test
  void gradients() {
    Tensor index = ids(new int[] {2, 3}, 0, 2, 1, 1, 1, 0), distinct = ids(new int[] {2, 3}, 0, 2, 1, 3, 1, 0);
    GradCheck.check("scatter", in -> in[0].scatter(1, distinct, in[1]), EPS, ATOL, RTOL, Tensor.randn(2, 4).requiresGrad(true),
        Tensor.randn(2, 5).requiresGrad(true));
    GradCheck.check("scatter value", in -> in[0].scatter(1, index, 3f), EPS, ATOL, RTOL, Tensor.randn(2, 4).requiresGrad(true));
    GradCheck.check("scatter_add", in -> in[0].scatterAdd(1, index, in[1]), EPS, ATOL, RTOL, Tensor.randn(2, 4).requiresGrad(true),
        Tensor.randn(3, 3).requiresGrad(true));
    Tensor rows = Tensor.labels(2, 0, 2);
    GradCheck.check("index_add", in -> in[0].indexAdd(0, rows, in[1], 0.5f), EPS, ATOL, RTOL, Tensor.randn(3, 2).requiresGrad(true),
        Tensor.randn(3, 2).requiresGrad(true));
    GradCheck.check("index_copy", in -> in[0].indexCopy(1, Tensor.labels(1, 0), in[1]), EPS, ATOL, RTOL,
        Tensor.randn(2, 3).requiresGrad(true), Tensor.randn(2, 2).requiresGrad(true));
    GradCheck.check("index_fill", in -> in[0].indexFill(0, Tensor.labels(1), -1f), EPS, ATOL, RTOL, Tensor.randn(3, 2).requiresGrad(true));
    Tensor mask = Tensor.of(new float[] {1, 0, 1}, 3);
    GradCheck.check("masked_select broadcast", in -> in[0].maskedSelect(mask), EPS, ATOL, RTOL, Tensor.randn(2, 1).requiresGrad(true));
    GradCheck.check("roll", in -> in[0].roll(new int[] {1, -2}, new int[] {0, 2}), EPS, ATOL, RTOL,
        Tensor.randn(2, 3, 4).requiresGrad(true));
    // scatter's src gradient is the incoming one gathered at index, for every duplicate (PyTorch's)
    Tensor src = Tensor.of(new float[] {1, 2}, 1, 2).requiresGrad(true);
    Tensor out = Tensor.zeros(1, 3).scatter(1, ids(new int[] {1, 2}, 1, 1), src);
    assertArrayEquals(new float[] {0, 2, 0}, out.toFloatArray()); // the last write wins
    out.backward(Tensor.of(new float[] {1, 5, 7}, 1, 3));
    assertArrayEquals(new float[] {5, 5}, src.grad().toFloatArray());
    assertNull(Tensor.of(new float[] {0, 1}, 2).requiresGrad(true).nonzero().gradFn());
  }

  @Test
  void errorsNameTheOpAndTheArgument() {
    Tensor x = Tensor.zeros(2, 3);
    var e = assertThrows(IllegalArgumentException.class, () -> x.scatter(1, ids(new int[] {2, 1}, 0, 3), 1f));
    assertEquals("scatter: index 3 at [1, 0] is out of range for dimension 1 of size 3 (input [2, 3])", e.getMessage());
    e = assertThrows(IllegalArgumentException.class, () -> x.scatterAdd(0, Tensor.labels(0, 1), Tensor.ones(2)));
    assertTrue(e.getMessage().startsWith("scatter_add: the index must be labels (Tensor.labels(...)) of the input's rank 2"), e.getMessage());
    e = assertThrows(IllegalArgumentException.class, () -> x.scatter(0, ids(new int[] {1, 3}, 0, 0, 0), Tensor.ones(1, 2)));
    assertEquals("scatter: index [1, 3] is larger than the source [1, 2] at dimension 1", e.getMessage());
    e = assertThrows(IllegalArgumentException.class, () -> x.scatter(2, ids(new int[] {1, 1}, 0), 1f));
    assertTrue(e.getMessage().startsWith("scatter of shape [2, 3]: dimension 2 is out of range"), e.getMessage());
    e = assertThrows(IllegalArgumentException.class, () -> x.indexAdd(1, Tensor.labels(0, 1), Tensor.ones(2, 3)));
    assertEquals("index_add: the source must have shape [2, 2] (the input [2, 3] with the index's 2 along dimension 1), got [2, 3]",
        e.getMessage());
    e = assertThrows(IllegalArgumentException.class, () -> x.indexFill(0, Tensor.labels(2), 0f));
    assertEquals("index_fill: index 2 at 0 is out of range for dimension 0 of size 2 (input [2, 3])", e.getMessage());
    e = assertThrows(IllegalArgumentException.class, () -> x.maskedSelect(Tensor.ones(4)));
    assertTrue(e.getMessage().startsWith("masked_select: shapes [2, 3] and [4] do not broadcast"), e.getMessage());
    e = assertThrows(IllegalArgumentException.class, () -> x.roll(new int[] {1}, new int[] {0, 1}));
    assertEquals("roll: shifts [1] and dims [0, 1] must have the same length", e.getMessage());
    e = assertThrows(IllegalArgumentException.class, () -> x.scatter(0, ids(new int[] {1, 1}, 0), Tensor.labels(1).reshape(1, 1)));
    assertTrue(e.getMessage().startsWith("scatter: expected a float tensor, got INT32"), e.getMessage());
  }
}
