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
}
