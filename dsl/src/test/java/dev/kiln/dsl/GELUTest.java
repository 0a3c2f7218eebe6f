package dev.kiln.dsl;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kiln.runtime.Tensor;
import org.junit.jupiter.api.Test;

/**
 * GELU against its exact values (double precision, rounded to float: Python's math.erfc) and
 * PyTorch 1.13's. Kiln rounds the exact value once; PyTorch computes in float, whose error grows in
 * the negative tail (-0.00404986739 at x = -3, exactly -0.00404969417; 0 at -6), so it is compared
 * to 2e-7 absolute.
 */
class GELUTest {
  @Test
  void valuesAndGradientsExactlyRoundedAndCloseToPyTorchs() {
    float[] x = {-6, -3, -1, -0.5f, -1e-3f, 0, 1e-3f, 0.5f, 1, 3, 6};
    float[] exact = {-5.91952576e-09f, -0.00404969417f, -0.158655256f, -0.154268771f, -0.000499601068f, 0f, 0.000500398979f,
        0.345731229f, 0.841344774f, 2.99595022f, 6f};
    float[] exactDx = {-3.54687089e-08f, -0.0119456472f, -0.0833154693f, 0.13250488f, 0.499202102f, 0.5f, 0.500797868f,
        0.86749512f, 1.08331549f, 1.01194561f, 1f};
    float[] torch = {0, -0.00404986739f, -0.158655286f, -0.154268786f, -0.000499601127f, 0, 0.000500398921f, 0.345731199f,
        0.841344714f, 2.99595022f, 6};
    float[] torchDx = {-2.98023224e-08f, -0.0119456053f, -0.0833154321f, 0.13250491f, 0.499202192f, 0.5f, 0.500797808f,
        0.86749506f, 1.08331537f, 1.01194561f, 1};
    Tensor t = Tensor.of(x.clone()).requiresGrad(true);
    Tensor out = new GELU().forward(t);
    out.sum().backward();
    float[] got = out.toFloatArray(), grad = t.grad().toFloatArray();
    for (int i = 0; i < x.length; i++) {
      assertEquals(exact[i], got[i], Math.ulp(exact[i]), "gelu(" + x[i] + ")");
      assertEquals(exactDx[i], grad[i], Math.ulp(exactDx[i]), "gelu'(" + x[i] + ")");
      assertEquals(torch[i], got[i], 2e-7f, "PyTorch's gelu(" + x[i] + ")");
      assertEquals(torchDx[i], grad[i], 2e-7f, "PyTorch's gelu'(" + x[i] + ")");
    }
    assertEquals("GELU(approximate='none')", new GELU().toString());
    assertEquals(got[3], F.gelu(t).toFloatArray()[3]);
  }

  /**
   * GELU("tanh"), PyTorch's nn.GELU(approximate='tanh'): its printed form, no parameters, F.gelu(x, "tanh") the same
   * values, PyTorch 1.13's values on a few points (GeluTanhTest compares thousands), and the error for another string.
   */
  @Test
  void tanhApproximationAsPyTorchs() {
    GELU tanh = new GELU("tanh");
    assertEquals("GELU(approximate='tanh')", tanh.toString());
    assertEquals("GELU(approximate='none')", new GELU("none").toString());
    assertTrue(tanh.stateDict().isEmpty());
    float[] x = {-6, -3, -1, -0.5f, 0, 0.5f, 1, 3, 6};
    // F.gelu(torch.tensor(x), approximate='tanh') and the gradient of its sum, torch 1.13
    float[] torch = {-0f, -0.0036374331f, -0.15880799f, -0.154286f, 0f, 0.345714f, 0.84119201f, 2.9963627f, 6f};
    float[] torchDx = {0f, -0.0115843f, -0.08296409f, 0.13263011f, 0.5f, 0.8673699f, 1.0829641f, 1.0115843f, 1f};
    Tensor t = Tensor.of(x.clone()).requiresGrad(true);
    Tensor out = tanh.forward(t);
    out.sum().backward();
    assertArrayEquals(torch, out.toFloatArray(), 1e-7f);
    assertArrayEquals(torchDx, t.grad().toFloatArray(), 2e-7f);
    assertArrayEquals(out.toFloatArray(), F.gelu(Tensor.of(x.clone()), "tanh").toFloatArray());
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> new GELU("erf"));
    assertEquals("gelu: approximate argument must be either none or tanh, not 'erf'", e.getMessage());
  }
}
