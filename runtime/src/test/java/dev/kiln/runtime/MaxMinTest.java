package dev.kiln.runtime;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/** max and min, along a dimension and of everything, as PyTorch 1.13's (values written from it). */
class MaxMinTest {
  private static final float NAN = Float.NaN;

  @Test
  void alongADimensionGiveValuesAndTheFirstIndexOnTies() {
    Tensor x = Tensor.of(new float[] {1, 5, 5, -2, 0, 7, 3, 3, -1, 4, 4, 2}, 2, 3, 2);
    // torch.max(x, 1): values [[5, 7], [4, 4]], indices [[1, 2], [2, 1]] (x[1, :, 1] = 3, 4, 2)
    ValuesAndIndices m = x.max(1);
    assertArrayEquals(new int[] {2, 2}, m.values().shape());
    assertArrayEquals(new float[] {5, 7, 4, 4}, m.values().toFloatArray());
    assertArrayEquals(new int[] {1, 2, 2, 1}, m.indices().toIntArray());
    assertEquals(DType.INT32, m.indices().dtype());
    ValuesAndIndices n = x.min(-1, true);
    assertArrayEquals(new int[] {2, 3, 1}, n.values().shape());
    assertArrayEquals(new float[] {1, -2, 0, 3, -1, 2}, n.values().toFloatArray());
    assertArrayEquals(new int[] {0, 1, 0, 0, 0, 1}, n.indices().toIntArray());
    // the tutorials' prediction: _, predicted = torch.max(outputs, 1)
    Tensor outputs = Tensor.of(new float[] {0.1f, 2, -1, 3, 3, 0}, 2, 3);
    assertArrayEquals(outputs.argmax(1).toIntArray(), outputs.max(1).indices().toIntArray());
  }

  @Test
  void nanWinsAsPyTorchPropagatesIt() {
    Tensor x = Tensor.of(new float[] {1, NAN, 3, NAN, 2, 0}, 2, 3);
    ValuesAndIndices m = x.max(1);
    assertTrue(Float.isNaN(m.values().toFloatArray()[0]));
    assertArrayEquals(new int[] {1, 0}, m.indices().toIntArray());
    assertArrayEquals(new int[] {1, 0}, x.min(1).indices().toIntArray());
    assertTrue(Float.isNaN(x.max().item()));
    assertTrue(Float.isNaN(x.min().item()));
  }

  @Test
  void gradientsGoWhereTheValuesCameFrom() {
    Tensor x = Tensor.of(new float[] {1, 5, 5, -2, 0, 7}, 2, 3).requiresGrad(true);
    x.max(1).values().mul(Tensor.of(new float[] {2, 3}, 2)).sum().backward();
    assertArrayEquals(new float[] {0, 2, 0, 0, 0, 3}, x.grad().toFloatArray());
    x.setGrad(null);
    x.min(0, true).values().sum().backward();
    assertArrayEquals(new float[] {0, 0, 1, 1, 1, 0}, x.grad().toFloatArray()); // PyTorch 1.13 gives the same
  }

  @Test
  void theWholeTensorsExtremumSharesItsGradientAmongTies() {
    // PyTorch: x = tensor([1., 5., 5., -2.], requires_grad=True); x.max().backward() -> [0, 0.5, 0.5, 0]
    Tensor x = Tensor.of(new float[] {1, 5, 5, -2}, 4).requiresGrad(true);
    Tensor m = x.max();
    assertArrayEquals(new int[0], m.shape());
    assertEquals(5f, m.item());
    m.backward();
    assertArrayEquals(new float[] {0, 0.5f, 0.5f, 0}, x.grad().toFloatArray());
    x.setGrad(null);
    x.min().mul(3f).backward();
    assertArrayEquals(new float[] {0, 0, 0, 3}, x.grad().toFloatArray());
  }

  @Test
  void softmaxStabilisedByTheRowMaximum() {
    // the tutorial's numpy softmax, e_x = exp(x - max(x)), with broadcasting against the kept dimension
    Tensor x = Tensor.of(new float[] {1, 2, 3, 1000, 1001, 1002}, 2, 3);
    Tensor e = x.sub(x.max(1, true).values()).exp();
    Tensor p = e.div(e.sum(1, true));
    float[] want = Ops.softmax(x, 1).toFloatArray();
    assertArrayEquals(want, p.toFloatArray(), 1e-6f);
  }

  @Test
  void noGradAndRankZero() {
    Tensor x = Tensor.of(new float[] {2, 1}, 2).requiresGrad(true);
    try (var g = Kiln.noGrad()) {
      assertFalse(x.max(0).values().requiresGrad());
      assertFalse(x.max().requiresGrad());
    }
    Tensor s = Tensor.scalar(3f);
    ValuesAndIndices m = s.max(0); // PyTorch: torch.tensor(3.).max(0) -> (3., 0)
    assertArrayEquals(new int[0], m.values().shape());
    assertEquals(3f, m.values().item());
    assertArrayEquals(new int[] {0}, m.indices().toIntArray());
  }

  @Test
  void topkAsPyTorchs() {
    // torch.topk(x, 3, dim=1): values [[5, 5, 3], [9, 4, 4]], indices [[1, 3, 2], [4, 2, 3]] (ties in order)
    Tensor x = Tensor.of(new float[] {1, 5, 3, 5, 2, 0, -1, 4, 4, 9}, 2, 5).requiresGrad(true);
    ValuesAndIndices t = x.topk(3, 1);
    assertArrayEquals(new int[] {2, 3}, t.values().shape());
    assertArrayEquals(new float[] {5, 5, 3, 9, 4, 4}, t.values().toFloatArray());
    assertArrayEquals(new int[] {1, 3, 2, 4, 2, 3}, t.indices().toIntArray());
    t.values().mul(Tensor.of(new float[] {1, 2, 3, 4, 5, 6}, 2, 3)).sum().backward();
    assertArrayEquals(new float[] {0, 1, 3, 2, 0, 0, 0, 5, 6, 4}, x.grad().toFloatArray());
    ValuesAndIndices low = x.topk(2, 1, false); // [[1, 2], [-1, 0]], indices [[0, 4], [1, 0]]
    assertArrayEquals(new float[] {1, 2, -1, 0}, low.values().toFloatArray());
    assertArrayEquals(new int[] {0, 4, 1, 0}, low.indices().toIntArray());
    ValuesAndIndices withNan = Tensor.of(new float[] {1, NAN, 3}, 3).topk(2, 0); // [nan, 3], [1, 2]
    assertTrue(Float.isNaN(withNan.values().toFloatArray()[0]));
    assertArrayEquals(new int[] {1, 2}, withNan.indices().toIntArray());
    assertArrayEquals(new int[] {0, 2}, Tensor.of(new float[] {1, NAN, 3}, 3).topk(2, 0, false).indices().toIntArray());
    ValuesAndIndices one = Tensor.scalar(3f).topk(1, 0); // PyTorch: (tensor(3.), tensor(0))
    assertArrayEquals(new int[0], one.values().shape());
    assertEquals(3f, one.values().item());
    assertArrayEquals(new int[] {0}, one.indices().toIntArray());
    assertEquals("topk: k 6 is out of range for dimension 1 of size 5, shape [2, 5]",
        assertThrows(IllegalArgumentException.class, () -> x.topk(6, 1)).getMessage());
  }

  @Test
  void badInputsAreRefusedNamingTheOp() {
    assertEquals("max along dimension 1 of size 0, shape [2, 0]: there is no maximum of nothing",
        assertThrows(IllegalArgumentException.class, () -> Tensor.zeros(2, 0).max(1)).getMessage());
    assertEquals("min of an empty tensor of shape [0]: there is no minimum of nothing; max(dim) takes a dimension of values",
        assertThrows(IllegalArgumentException.class, () -> Tensor.zeros(0).min()).getMessage());
    assertTrue(assertThrows(IllegalArgumentException.class, () -> Tensor.zeros(2, 3).max(2)).getMessage()
        .startsWith("max of shape [2, 3]: "));
    assertEquals(DType.INT32, Tensor.labels(1, 2).min(0).values().dtype()); // the least id, an id (IdArithmeticTest)
  }
}
