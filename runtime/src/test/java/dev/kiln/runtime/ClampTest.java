package dev.kiln.runtime;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import org.junit.jupiter.api.Test;

/** clamp against PyTorch 1.13's values and gradients (written from it), edges included. */
class ClampTest {
  private static final float NAN = Float.NaN;
  private static final float INF = Float.POSITIVE_INFINITY;
  private static final float[] X = {-3, -1, -0.5f, 0, 0.5f, 1, 2, NAN, INF, -INF};

  @Test
  void valuesAndGradientsAsPyTorchs() {
    Tensor x = Tensor.of(X.clone(), X.length).requiresGrad(true);
    Tensor y = x.clamp(-1, 1);
    assertArrayEquals(new float[] {-1, -1, -0.5f, 0, 0.5f, 1, 1, NAN, 1, -1}, y.toFloatArray());
    y.sum().backward();
    // the bounds themselves pass the gradient; NaN and the values outside do not
    assertArrayEquals(new float[] {0, 1, 1, 1, 1, 1, 0, 0, 0, 0}, x.grad().toFloatArray());
  }

  @Test
  void oneSidedAndCrossedBounds() {
    Tensor x = Tensor.of(X.clone(), X.length);
    assertArrayEquals(new float[] {0, 0, 0, 0, 0.5f, 1, 2, NAN, INF, 0}, x.clampMin(0).toFloatArray());
    assertArrayEquals(new float[] {-3, -1, -0.5f, 0, 0.5f, 1, 1, NAN, 1, -INF}, x.clampMax(1).toFloatArray());
    assertArrayEquals(new float[] {1, 1, 1, 1, 1, 1, 1, NAN, 1, 1}, x.clamp(2, 1).toFloatArray()); // min > max: max
  }

  @Test
  void nanBoundsAreRefused() {
    assertEquals("clamp: the bounds must be numbers, got a NaN min",
        assertThrows(IllegalArgumentException.class, () -> Tensor.zeros(2).clamp(NAN, 1)).getMessage());
  }
}
