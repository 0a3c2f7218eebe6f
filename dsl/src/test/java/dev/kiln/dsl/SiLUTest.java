package dev.kiln.dsl;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.kiln.runtime.Tensor;
import org.junit.jupiter.api.Test;

/** SiLU against PyTorch 1.13's values and gradients (written from it). */
class SiLUTest {
  @Test
  void valuesAndGradientsAsPyTorchs() {
    Tensor x = Tensor.of(new float[] {-3, -0.5f, 0, 0.5f, 3}).requiresGrad(true);
    Tensor y = new SiLU().forward(x);
    assertArrayEquals(new float[] {-0.14227761f, -0.18877034f, 0, 0.31122968f, 2.8577225f}, y.toFloatArray(), 1e-6f);
    y.sum().backward();
    assertArrayEquals(new float[] {-0.088104106f, 0.26003882f, 0.5f, 0.7399612f, 1.0881041f}, x.grad().toFloatArray(), 1e-6f);
    assertArrayEquals(y.toFloatArray(), F.silu(x).toFloatArray());
    assertEquals("SiLU()", new SiLU().toString());
  }

  /**
   * Far from 0 and at the edges: the exact values rounded to float (mpmath, 50 digits), within an
   * ulp (the float kernel's bound is 1.6 ulp: {@code cpu.SmoothActivationsTest}). PyTorch 1.13's
   * float arithmetic is a few ulps off in places (silu'(10) 1.0004087687 for 1.0004085602) and
   * underflows to -0 at -100, as Kiln's float kernel does (its sigmoid is 0 below -87.7; the double
   * kernel before it gave the subnormal -3.7e-42). At the infinities Kiln gives the limits, -0 and
   * +inf, gradients 0 and 1, where PyTorch gives NaN for silu(-inf), silu'(-inf) and silu'(inf).
   */
  @Test
  void tailsAndEdgesCorrectlyRounded() {
    float inf = Float.POSITIVE_INFINITY;
    Tensor x = Tensor.of(new float[] {-100, -30, -10, -1e-3f, 1e-3f, 10, 30, 100, inf, -inf, Float.NaN}).requiresGrad(true);
    Tensor y = F.silu(x);
    y.sum().backward();
    float[] v = y.toFloatArray();
    float[] g = x.grad().toFloatArray();
    float[] exactY = {-0f, -2.807286954981114e-12f, -0.0004539786896202713f, -0.0004997500218451023f,
        0.000500250025652349f, 9.99954605102539f, 30.0f, 100.0f, inf, -0f, Float.NaN};
    float[] exactG = {-0f, -2.7137107665164972e-12f, -0.0004085602122358978f, 0.49950000643730164f,
        0.5005000233650208f, 1.0004085302352905f, 1.0f, 1.0f, 1f, 0f, Float.NaN};
    for (int i = 0; i < v.length; i++) {
      assertEquals(exactY[i], v[i], Float.isFinite(exactY[i]) ? Math.ulp(exactY[i]) : 0, "silu(" + x.toFloatArray()[i] + ")");
      assertEquals(exactG[i], g[i], Float.isFinite(exactG[i]) ? Math.ulp(exactG[i]) : 0, "silu'(" + x.toFloatArray()[i] + ")");
      if (exactY[i] == 0f) {
        assertEquals(Float.floatToIntBits(exactY[i]), Float.floatToIntBits(v[i]), "silu(" + x.toFloatArray()[i] + ") is -0");
      }
    }
  }
}
