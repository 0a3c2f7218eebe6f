package dev.kiln.runtime;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;

import org.junit.jupiter.api.Test;

/**
 * Gradients accumulated over backwards without zeroGrad: each backward sums a leaf's contributions first and adds the
 * total to the gradient already there, {@code grad + (g1 + g2)}, as PyTorch's AccumulateGrad does (not {@code (grad +
 * g1) + g2}). Expected values from PyTorch 1.13: {@code w.grad = torch.ones(1); ((w * a).sum() + (w * b).sum()).backward()}
 * with {@code a = b = 2**-24} gives {@code 1 + 2**-23} (added in turn, each half ulp rounds away to 1).
 */
class GradientAccumulationTest {
  private static final float HALF_ULP = 0x1p-24f;

  @Test
  void aLeafsContributionsAreSummedBeforeTheyMeetItsGradient() {
    Tensor w = Tensor.of(new float[] {2f}, 1).requiresGrad(true);
    Tensor a = Tensor.of(new float[] {HALF_ULP}, 1);
    Tensor before = Tensor.of(new float[] {1f}, 1);
    w.setGrad(before);
    w.mul(a).sum().add(w.mul(a).sum()).backward();
    assertEquals(1f + 0x1p-23f, w.grad().item(), "grad + (g1 + g2), PyTorch's");
    assertSame(before, w.grad(), "the gradient tensor is kept (an optimizer may hold it)");
  }

  @Test
  void aZeroedGradientIsWrittenAsAFreshOne() {
    Tensor w = Tensor.of(new float[] {2f, 3f}, 2).requiresGrad(true);
    Tensor a = Tensor.of(new float[] {HALF_ULP, -0f}, 2);
    w.mul(a).sum().backward();
    Tensor g = w.grad();
    g.zero();
    w.mul(a).sum().add(w.mul(a).sum()).backward();
    assertSame(g, w.grad());
    assertArrayEquals(new float[] {0x1p-23f, 0f}, w.grad().toFloatArray());
  }

  @Test
  void aLeafTheBackwardDoesNotReachKeepsItsGradient() {
    Tensor w = Tensor.of(new float[] {2f}, 1).requiresGrad(true);
    Tensor v = Tensor.of(new float[] {5f}, 1).requiresGrad(true);
    w.setGrad(Tensor.of(new float[] {1f}, 1));
    v.setGrad(Tensor.of(new float[] {7f}, 1));
    w.mul(Tensor.of(new float[] {3f}, 1)).sum().backward();
    assertEquals(4f, w.grad().item());
    assertEquals(7f, v.grad().item());
    assertThrowsNothingOnSecondGraph(w);
  }

  /** A refused backward (a graph gone through twice) leaves the held gradient as it was. */
  private static void assertThrowsNothingOnSecondGraph(Tensor w) {
    Tensor loss = w.mul(Tensor.of(new float[] {3f}, 1)).sum();
    loss.backward();
    assertEquals(7f, w.grad().item());
    org.junit.jupiter.api.Assertions.assertThrows(IllegalStateException.class, loss::backward);
    assertEquals(7f, w.grad().item());
  }
}
