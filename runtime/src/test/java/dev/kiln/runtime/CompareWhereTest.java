package dev.kiln.runtime;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/** Comparisons as 0/1 masks and where, as PyTorch 1.13's (values written from it). */
class CompareWhereTest {
  private static final float NAN = Float.NaN;

  @Test
  void comparisonsGiveMasksAndNanComparesFalseButNe() {
    Tensor a = Tensor.of(new float[] {1, 2, 3, NAN}, 4);
    Tensor b = Tensor.of(new float[] {2, 2, 2, NAN}, 4);
    assertArrayEquals(new float[] {0, 0, 1, 0}, a.gt(b).toFloatArray());
    assertArrayEquals(new float[] {0, 1, 1, 0}, a.ge(b).toFloatArray());
    assertArrayEquals(new float[] {1, 0, 0, 0}, a.lt(b).toFloatArray());
    assertArrayEquals(new float[] {1, 1, 0, 0}, a.le(b).toFloatArray());
    assertArrayEquals(new float[] {0, 1, 0, 0}, a.eq(b).toFloatArray());
    assertArrayEquals(new float[] {1, 0, 1, 1}, a.ne(b).toFloatArray());
    assertArrayEquals(new float[] {0, 1, 1, 0}, a.gt(1.5f).toFloatArray());
    assertArrayEquals(new float[] {1, 0, 1, 1}, a.ne(2f).toFloatArray());
    assertArrayEquals(new float[] {0, 1, 0, 0}, a.eq(2f).toFloatArray());
    assertArrayEquals(new float[] {1, 1, 0, 0}, a.le(2f).toFloatArray());
    assertFalse(a.requiresGrad(true).gt(0f).requiresGrad(), "a mask has no gradient");
  }

  @Test
  void comparisonsBroadcast() {
    Tensor col = Tensor.of(new float[] {1, 2, 3}, 3, 1);
    Tensor row = Tensor.of(new float[] {2, 3}, 1, 2);
    Tensor m = col.ge(row); // torch: [[False, False], [True, False], [True, True]]
    assertArrayEquals(new int[] {3, 2}, m.shape());
    assertArrayEquals(new float[] {0, 0, 1, 0, 1, 1}, m.toFloatArray());
    // a binary classifier's hits: (logits > 0) == labels
    Tensor logits = Tensor.of(new float[] {-1, 0.5f, 2, -0.1f}, 4);
    assertEquals(3f, logits.gt(0f).eq(Tensor.of(new float[] {0, 1, 1, 1}, 4)).sum().item());
    var e = assertThrows(IllegalArgumentException.class, () -> col.lt(Tensor.zeros(4, 2)));
    assertTrue(e.getMessage().startsWith("lt: shapes [3, 1] and [4, 2] do not broadcast"), e.getMessage());
  }

  @Test
  void whereTakesAWhereTheConditionHoldsAndSendsEachItsGradient() {
    Tensor x = Tensor.of(new float[] {-2, -1, 0, 1, 2}, 5).requiresGrad(true);
    Tensor zero = Tensor.zeros().requiresGrad(true);
    Tensor y = Tensor.where(x.gt(0f), x, zero); // a ReLU written with where
    assertArrayEquals(new float[] {0, 0, 0, 1, 2}, y.toFloatArray());
    y.mul(Tensor.of(new float[] {1, 2, 3, 4, 5}, 5)).sum().backward();
    assertArrayEquals(new float[] {0, 0, 0, 4, 5}, x.grad().toFloatArray());
    assertEquals(6f, zero.grad().item(), "the broadcast scalar gets the sum of the gradients it took");
  }

  @Test
  void theBranchNotTakenStaysOutOfTheResultAsInPyTorch() {
    // torch.where(x > 0, x.log(), 0.) with x = [0, 1]: log(0) = -inf is not taken, and its gradient stays out
    Tensor x = Tensor.of(new float[] {0, 1}, 2).requiresGrad(true);
    Tensor y = Tensor.where(x.gt(0f), x.log(), Tensor.zeros());
    assertArrayEquals(new float[] {0, 0}, y.toFloatArray());
    y.sum().backward();
    // PyTorch gives [nan, 1] here (log's backward multiplies 0 by 1/0); Kiln's log backward does too
    float[] g = x.grad().toFloatArray();
    assertTrue(Float.isNaN(g[0]), "as PyTorch's: 0 * (1 / 0)");
    assertEquals(1f, g[1]);
  }

  @Test
  void whereBroadcastsEveryOperandAsPyTorchDoes() {
    // torch: c [2, 1, 3] stretched mid-shape, a [3] repeated over the leading dimensions, b [2, 2, 3];
    // y = torch.where(c != 0, a, b); y.backward(torch.arange(1., 13).reshape(2, 2, 3))
    Tensor c = Tensor.of(new float[] {1, 0, 1, 0, 0, 1}, 2, 1, 3);
    Tensor a = Tensor.of(new float[] {10, 20, 30}, 3).requiresGrad(true);
    Tensor b = Tensor.of(new float[] {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}, 2, 2, 3).requiresGrad(true);
    Tensor y = Tensor.where(c, a, b);
    assertArrayEquals(new float[] {10, 1, 30, 10, 4, 30, 6, 7, 30, 9, 10, 30}, y.toFloatArray());
    y.backward(Tensor.of(new float[] {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}, 2, 2, 3));
    assertArrayEquals(new float[] {5, 0, 30}, a.grad().toFloatArray());
    assertArrayEquals(new float[] {0, 2, 0, 0, 5, 0, 7, 8, 0, 10, 11, 0}, b.grad().toFloatArray());
    // the same with a label condition (read through broadcast indices, not expanded): the same values
    Tensor labels = Tensor.labels(1, 0, 2, 0, 0, 1).reshape(2, 1, 3);
    assertArrayEquals(y.toFloatArray(), Tensor.where(labels, a, b).toFloatArray());
  }

  @Test
  void maskedFillOverManyRowsMatchesItsDefinition() {
    // large enough to split over the cores, the spans ending mid-row: a causal mask [S, S] repeated over
    // [N, H, S, S] and a padding mask [N, 1, 1, S] stretched over heads and query positions
    int n = 6, h = 3, len = 37;
    Tensor scores = Tensor.randn(n, h, len, len).requiresGrad(true);
    Tensor causal = Tensor.ones(len, len).tril(0).eq(0f);
    float[] keep = new float[n * len];
    for (int i = 0; i < keep.length; i++) {
      keep[i] = i % len < len - i / len ? 1 : 0; // sample i keeps len - i tokens
    }
    Tensor padding = Tensor.of(keep, n, 1, 1, len).eq(0f);
    float[] x = scores.toFloatArray(), cm = causal.toFloatArray(), pm = padding.toFloatArray();
    Tensor y = scores.maskedFill(causal, Float.NEGATIVE_INFINITY).maskedFill(padding, -1e9f);
    float[] got = y.toFloatArray();
    float[] g = new float[x.length];
    for (int i = 0; i < x.length; i++) {
      int col = i % len, row = i / len % len, sample = i / (h * len * len);
      boolean padded = pm[sample * len + col] != 0, future = cm[row * len + col] != 0;
      float expected = padded ? -1e9f : future ? Float.NEGATIVE_INFINITY : x[i];
      assertEquals(expected, got[i], "value " + i);
      g[i] = i % 7 - 3f;
    }
    y.backward(Tensor.of(g, n, h, len, len));
    float[] dx = scores.grad().toFloatArray();
    for (int i = 0; i < x.length; i++) {
      int col = i % len, row = i / len % len, sample = i / (h * len * len);
      boolean filled = pm[sample * len + col] != 0 || cm[row * len + col] != 0;
      assertEquals(filled ? 0f : g[i], dx[i], "gradient " + i);
    }
  }
}
