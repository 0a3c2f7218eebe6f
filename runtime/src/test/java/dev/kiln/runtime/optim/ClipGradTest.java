package dev.kiln.runtime.optim;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kiln.runtime.Tensor;
import dev.kiln.runtime.cpu.Blas;
import java.util.List;
import org.junit.jupiter.api.Test;

class ClipGradTest {
  private static Tensor param(float[] grad) {
    Tensor p = Tensor.zeros(grad.length).requiresGrad(true);
    p.setGrad(Tensor.of(grad.clone(), grad.length));
    return p;
  }

  @Test
  void scalesEveryGradientByTheSameFactorWhenTheTotalNormIsAboveTheMaximum() {
    Tensor a = param(new float[] {3, 4});
    Tensor b = param(new float[] {12});
    Tensor none = Tensor.zeros(2).requiresGrad(true); // no gradient: skipped
    double total = ClipGrad.norm(List.of(a, none, b), 6.5);
    assertEquals(13.0, total, 1e-9);
    float coef = (float) (6.5 / (13 + 1e-6));
    assertArrayEquals(new float[] {3 * coef, 4 * coef}, a.grad().toFloatArray());
    assertArrayEquals(new float[] {12 * coef}, b.grad().toFloatArray());
    assertEquals(null, none.grad());
  }

  @Test
  void leavesGradientsBelowTheMaximumAlone() {
    Tensor a = param(new float[] {3, 4});
    assertEquals(5.0, ClipGrad.norm(List.of(a), 100), 1e-9);
    assertArrayEquals(new float[] {3, 4}, a.grad().toFloatArray());
  }

  @Test
  void aGradientInNativeMemoryIsScaledThere() {
    Tensor a = param(new float[] {6, 8});
    if (Blas.isNative()) {
      a.grad().writeNative(); // as a compiled model leaves it
      assertTrue(a.grad().isNativeCurrent());
    }
    assertEquals(10.0, ClipGrad.norm(List.of(a), 5), 1e-9);
    float coef = (float) (5 / (10 + 1e-6));
    assertArrayEquals(new float[] {6 * coef, 8 * coef}, a.grad().toFloatArray());
  }

  @Test
  void aNonFiniteNormLeavesTheGradientsAndBadMaximaAreNamed() {
    Tensor a = param(new float[] {Float.NaN, 1});
    assertTrue(Double.isNaN(ClipGrad.norm(List.of(a), 1)));
    assertEquals(1f, a.grad().toFloatArray()[1]);
    Tensor b = param(new float[] {Float.POSITIVE_INFINITY, 2});
    assertEquals(Double.POSITIVE_INFINITY, ClipGrad.norm(List.of(b), 1));
    assertArrayEquals(new float[] {Float.POSITIVE_INFINITY, 2}, b.grad().toFloatArray(), "an infinite norm leaves them too");
    Tensor huge = param(new float[] {3e20f, 4e20f}); // squares overflow float, not double
    assertEquals(5e20, ClipGrad.norm(List.of(huge), 1), 1e14);
    assertEquals(0.6, huge.grad().toFloatArray()[0], 1e-6);
    var e = assertThrows(IllegalArgumentException.class, () -> ClipGrad.norm(List.of(a), -1));
    assertTrue(e.getMessage().contains("maxNorm must be finite and >= 0, got -1.0"), e.getMessage());
    Tensor zeroed = param(new float[] {3, 4}); // maxNorm 0 zeroes them, as PyTorch's
    assertEquals(5.0, ClipGrad.norm(List.of(zeroed), 0), 1e-6);
    assertArrayEquals(new float[] {0, 0}, zeroed.grad().toFloatArray());
    assertThrows(IllegalArgumentException.class, () -> ClipGrad.norm(List.of(a), Double.POSITIVE_INFINITY));
  }

  @Test
  void valueClampsEachGradientValue() {
    Tensor a = Tensor.of(new float[] {1, 2}).requiresGrad(true);
    Tensor b = Tensor.of(new float[] {3}).requiresGrad(true);
    a.setGrad(Tensor.of(new float[] {-5f, 0.25f}));
    b.setGrad(Tensor.of(new float[] {Float.NaN}));
    Tensor c = Tensor.of(new float[] {4}).requiresGrad(true); // no gradient: skipped
    ClipGrad.value(java.util.List.of(a, b, c), 0.5);
    org.junit.jupiter.api.Assertions.assertArrayEquals(new float[] {-0.5f, 0.25f}, a.grad().toFloatArray());
    org.junit.jupiter.api.Assertions.assertTrue(Float.isNaN(b.grad().item()), "NaN stays NaN, as PyTorch's clamp_");
    org.junit.jupiter.api.Assertions.assertNull(c.grad());
    org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class, () -> ClipGrad.value(java.util.List.of(a), -1));
  }
}
