package dev.kiln.dsl;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.kiln.runtime.Tensor;
import java.util.List;
import org.junit.jupiter.api.Test;

/** LayerNorm against PyTorch 1.13's values, gradients and repr (written from it). */
class LayerNormTest {
  @Test
  void valuesAndGradientsAsPyTorchs() {
    LayerNorm ln = new LayerNorm(4);
    System.arraycopy(new float[] {1, 2, 3, 4}, 0, ln.weight().buffer(), ln.weight().offset(), 4);
    System.arraycopy(new float[] {0, 0.5f, -0.5f, 1}, 0, ln.bias().buffer(), ln.bias().offset(), 4);
    Tensor x = Tensor.of(new float[] {1, 2, 3, 4, -1, 0, 5, 2}, 2, 4).requiresGrad(true);
    Tensor y = ln.forward(x);
    assertArrayEquals(new float[] {-1.3416355f, -0.39442372f, 0.8416354f, 6.366542f, -1.0910884f, -0.80930614f, 4.082571f,
        1.8728707f}, y.toFloatArray(), 2e-6f);
    y.mul(Tensor.of(new float[] {1, 2, 3, 4, 4, 3, 2, 1}, 2, 4)).sum().backward();
    assertArrayEquals(new float[] {0.8943708f, -0.8944411f, -0.8944068f, 0.8944764f, -0.22860944f, 0.561131f, 0.14547896f,
        -0.47800064f}, x.grad().toFloatArray(), 2e-5f);
    assertArrayEquals(new float[] {-5.705989f, -2.858383f, 4.396683f, 5.58476f}, ln.weight().grad().toFloatArray(), 2e-5f);
    assertArrayEquals(new float[] {5, 5, 5, 5}, ln.bias().grad().toFloatArray(), 1e-6f);
    assertEquals(List.of("weight", "bias"), List.copyOf(ln.stateDict().keySet()));
  }

  @Test
  void reprShapesAndErrors() {
    assertEquals("LayerNorm((4,), eps=1e-05, elementwise_affine=True)", new LayerNorm(4).toString());
    assertEquals("LayerNorm((2, 3), eps=1e-05, elementwise_affine=True)", new LayerNorm(2, 3).toString());
    LayerNorm plain = new LayerNorm(new int[] {2, 3}, 1e-3, false);
    assertEquals(0, plain.parameters().size());
    Tensor y = plain.forward(Tensor.randn(5, 2, 3));
    assertArrayEquals(new int[] {5, 2, 3}, y.shape());
    assertEquals(0f, y.reshape(5, 6).mean(1).abs().max().item(), 1e-6f); // each sample centred
    var e = assertThrows(IllegalArgumentException.class, () -> new LayerNorm(4).forward(Tensor.zeros(2, 5)));
    assertEquals("LayerNorm((4,), eps=1e-05, elementwise_affine=True) expects [*, 4], receives [2, 5]", e.getMessage());
    assertThrows(IllegalArgumentException.class, () -> new LayerNorm(0));
  }
}
