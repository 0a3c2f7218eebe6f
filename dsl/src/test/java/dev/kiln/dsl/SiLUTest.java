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
}
