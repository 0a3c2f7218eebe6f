package dev.kiln.dsl;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kiln.runtime.Kiln;
import dev.kiln.runtime.Tensor;
import org.junit.jupiter.api.Test;

/** BCELoss and BCEWithLogitsLoss against PyTorch 1.13's values and gradients (written from it), edges included. */
class BinaryLossTest {
  private static void close(float[] want, float[] got, String what) {
    assertEquals(want.length, got.length, what);
    for (int i = 0; i < want.length; i++) {
      assertEquals(want[i], got[i], 2e-6f * Math.max(1f, Math.abs(want[i])), what + " at " + i);
    }
  }

  @Test
  void withLogitsValuesAndGradients() {
    Tensor x = Tensor.of(new float[] {-100, -3, -0.5f, 0, 0.5f, 3, 100, 20}).requiresGrad(true);
    Tensor y = Tensor.of(new float[] {0, 1, 0.25f, 1, 0, 1, 0, 1}).requiresGrad(true);
    Tensor l = new BCEWithLogitsLoss(Reduction.NONE).apply(x, y);
    close(new float[] {0, 3.0485873f, 0.59907699f, 0.69314718f, 0.97407699f, 0.04858733f, 100, 0}, l.toFloatArray(), "loss");
    l.sum().backward();
    // at a logit of exactly 0 the gradient is sigmoid(0) - y = -0.5, not a kink's
    close(new float[] {0, -0.95257413f, 0.12754068f, -0.5f, 0.62245935f, -0.04742587f, 1, 0}, x.grad().toFloatArray(), "dx");
    close(new float[] {100, 3, 0.5f, 0, -0.5f, -3, -100, -20}, y.grad().toFloatArray(), "dy");
    assertEquals(0.39366931f, F.binaryCrossEntropyWithLogits(Tensor.of(new float[] {0.5f, -1}), Tensor.of(new float[] {1, 0})).item(), 1e-7f);
  }

  @Test
  void probabilitiesValuesAndGradientsClampTheLogsAsPyTorch() {
    Tensor p = Tensor.of(new float[] {0, 0.1f, 0.5f, 0.9f, 1, 1, 0, 0.3f}).requiresGrad(true);
    Tensor t = Tensor.of(new float[] {0, 1, 0.25f, 1, 0, 1, 1, 0.7f}).requiresGrad(true);
    Tensor l = new BCELoss(Reduction.NONE).apply(p, t);
    close(new float[] {0, 2.3025851f, 0.69314718f, 0.10536055f, 100, 0, 100, 0.94978344f}, l.toFloatArray(), "loss");
    l.sum().backward();
    close(new float[] {0, -10, 1, -1.1111112f, 1e12f, 0, -1e12f, -1.9047617f}, p.grad().toFloatArray(), "dp");
    float inf = Float.POSITIVE_INFINITY;
    assertArrayEquals(new float[] {inf, 2.1972246f, 0, -2.1972244f, -inf, -inf, inf, 0.84729785f}, t.grad().toFloatArray(), 1e-6f);
  }

  @Test
  void reductionsAndSigmoidThenBceMatchesWithLogits() {
    Kiln.manualSeed(4);
    Tensor x = Tensor.randn(6, 1);
    Tensor y = Tensor.of(new float[] {0, 1, 1, 0, 1, 0}, 6, 1);
    float none = new BCEWithLogitsLoss(Reduction.NONE).apply(x, y).sum().item();
    assertEquals(none, new BCEWithLogitsLoss(Reduction.SUM).apply(x, y).item(), 1e-6f);
    assertEquals(none / 6, new BCEWithLogitsLoss().apply(x, y).item(), 1e-6f);
    assertEquals(new BCEWithLogitsLoss().apply(x, y).item(), new BCELoss().apply(F.sigmoid(x), y).item(), 1e-6f);
    assertEquals("BCELoss()", new BCELoss().toString());
  }

  @Test
  void infiniteLogitsAndEmptyBatches() {
    float inf = Float.POSITIVE_INFINITY;
    Tensor x = Tensor.of(new float[] {inf, inf, -inf, -inf, inf});
    Tensor y = Tensor.of(new float[] {0, 1, 1, 0, 0.5f});
    // the limits: a sure wrong answer costs infinity, a sure right one nothing (PyTorch gives inf, nan, nan, 0, inf)
    assertArrayEquals(new float[] {inf, 0, inf, 0, inf}, new BCEWithLogitsLoss(Reduction.NONE).apply(x, y).toFloatArray());
    // an empty batch's mean is NaN, as PyTorch's losses give it
    assertTrue(Float.isNaN(new BCEWithLogitsLoss().apply(Tensor.zeros(0), Tensor.zeros(0)).item()));
    assertTrue(Float.isNaN(new NLLLoss().apply(Tensor.zeros(0, 3), Tensor.labels()).item()));
    assertTrue(Float.isNaN(new MSELoss().apply(Tensor.zeros(0, 2), Tensor.zeros(0, 2)).item()));
    assertEquals(0f, new BCELoss(Reduction.SUM).apply(Tensor.zeros(0), Tensor.zeros(0)).item());
  }

  @Test
  void badInputsAreRefused() {
    var e = assertThrows(IllegalArgumentException.class,
        () -> new BCELoss().apply(Tensor.of(new float[] {0.5f, 1.5f}), Tensor.of(new float[] {1, 0})));
    assertEquals("binary_cross_entropy: all elements of input should be between 0 and 1, got 1.5 at flat index 1 of shape [2]"
        + " (logits belong in the with-logits form)", e.getMessage());
    assertThrows(IllegalArgumentException.class,
        () -> new BCELoss().apply(Tensor.of(new float[] {Float.NaN}), Tensor.of(new float[] {1})));
    e = assertThrows(IllegalArgumentException.class, () -> new BCEWithLogitsLoss().apply(Tensor.zeros(4, 1), Tensor.zeros(4)));
    assertEquals("binary_cross_entropy_with_logits: input [4, 1] and target [4] must have the same shape", e.getMessage());
  }
}
