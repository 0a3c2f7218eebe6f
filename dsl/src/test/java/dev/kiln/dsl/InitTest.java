package dev.kiln.dsl;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kiln.runtime.Kiln;
import dev.kiln.runtime.Tensor;
import java.util.List;
import org.junit.jupiter.api.Test;

/** torch.nn.init's initialisers: their bounds and spreads from PyTorch's formulas, in place, seeded. */
class InitTest {
  private static double std(float[] v) {
    double m = 0, q = 0;
    for (float x : v) {
      m += x;
    }
    m /= v.length;
    for (float x : v) {
      q += (x - m) * (x - m);
    }
    return Math.sqrt(q / v.length);
  }

  private static double maxAbs(float[] v) {
    double a = 0;
    for (float x : v) {
      a = Math.max(a, Math.abs(x));
    }
    return a;
  }

  @Test
  void gainsAsPyTorchs() {
    assertEquals(1, Init.calculateGain(Init.Nonlinearity.SIGMOID));
    assertEquals(5.0 / 3, Init.calculateGain(Init.Nonlinearity.TANH));
    assertEquals(Math.sqrt(2), Init.calculateGain(Init.Nonlinearity.RELU));
    assertEquals(1.4141428569978354, Init.calculateGain(Init.Nonlinearity.LEAKY_RELU), 1e-15); // PyTorch's value
    assertEquals(Math.sqrt(2 / 1.04), Init.calculateGain(Init.Nonlinearity.LEAKY_RELU, 0.2), 1e-15);
  }

  @Test
  void kaimingAndXavierFollowTheFansOfAConvolutionWeight() {
    Kiln.manualSeed(0);
    Conv2d conv = new Conv2d(16, 64, 3); // weight [64, 16, 3, 3]: fan in 144, fan out 576
    Tensor w = conv.weight();
    assertSame(w, Init.kaimingNormal(w, 0, Init.FanMode.FAN_OUT, Init.Nonlinearity.RELU));
    assertEquals(Math.sqrt(2.0 / 576), std(w.toFloatArray()), 0.03 * Math.sqrt(2.0 / 576));
    Init.kaimingUniform(w);
    double bound = Math.sqrt(3) * Math.sqrt(2) / Math.sqrt(144);
    assertTrue(maxAbs(w.toFloatArray()) <= bound && maxAbs(w.toFloatArray()) > 0.95 * bound);
    Init.xavierUniform(w, Init.calculateGain(Init.Nonlinearity.TANH));
    double xb = 5.0 / 3 * Math.sqrt(6.0 / (144 + 576));
    assertTrue(maxAbs(w.toFloatArray()) <= xb && maxAbs(w.toFloatArray()) > 0.95 * xb);
    Init.xavierNormal(w);
    assertEquals(Math.sqrt(2.0 / 720), std(w.toFloatArray()), 0.03 * Math.sqrt(2.0 / 720));
  }

  @Test
  void simpleFillsAndReproducibility() {
    Linear fc = new Linear(3, 2);
    Init.zeros(fc.bias());
    assertArrayEquals(new float[] {0, 0}, fc.bias().toFloatArray());
    Init.constant(fc.weight(), 0.5);
    assertArrayEquals(new float[] {0.5f, 0.5f, 0.5f, 0.5f, 0.5f, 0.5f}, fc.weight().toFloatArray());
    Kiln.manualSeed(7);
    float[] first = Init.normal(fc.weight(), 1, 2).toFloatArray().clone();
    Kiln.manualSeed(7);
    assertArrayEquals(first, Init.normal(fc.weight(), 1, 2).toFloatArray());
    Init.uniform(fc.weight(), -0.1, 0.1);
    assertTrue(maxAbs(fc.weight().toFloatArray()) <= 0.1);
    assertTrue(fc.weight().requiresGrad(), "still a parameter");
  }

  /**
   * orthogonal_: the rows (fewer than the columns) or the columns of the weight viewed as a matrix are orthonormal times the
   * gain; seeded; a vector is refused as PyTorch refuses it.
   */
  @Test
  void orthogonalRowsOrColumns() {
    Kiln.manualSeed(4);
    Tensor conv = Init.orthogonal(Tensor.zeros(6, 2, 3, 3), Init.calculateGain(Init.Nonlinearity.RELU)); // 6 rows of 18
    Tensor rows = conv.view(6, 18);
    assertClose(identity(6, 2f), rows.matmul(rows.transpose(0, 1)).toFloatArray());
    Tensor tall = Init.orthogonal(Tensor.zeros(9, 4)); // 4 columns of 9
    assertClose(identity(4, 1f), tall.transpose(0, 1).matmul(tall).toFloatArray());
    Kiln.manualSeed(4);
    assertArrayEquals(conv.toFloatArray(), Init.orthogonal(Tensor.zeros(6, 2, 3, 3), Math.sqrt(2)).toFloatArray());
    assertEquals("Init.orthogonal: only tensors with 2 or more dimensions are supported, got [5]",
        assertThrows(IllegalArgumentException.class, () -> Init.orthogonal(Tensor.zeros(5))).getMessage());
  }

  private static float[] identity(int n, float diagonal) {
    float[] v = new float[n * n];
    for (int i = 0; i < n; i++) {
      v[i * n + i] = diagonal;
    }
    return v;
  }

  private static void assertClose(float[] expected, float[] actual) {
    for (int i = 0; i < expected.length; i++) {
      assertEquals(expected[i], actual[i], 1e-5, "[" + i + "]");
    }
  }

  @Test
  void badArgumentsAreRefused() {
    assertEquals("Init.kaimingNormal: fan in and fan out can not be computed for a tensor with fewer than 2 dimensions, shape [4]"
        + " (a bias: use uniform, normal or zeros)",
        assertThrows(IllegalArgumentException.class, () -> Init.kaimingNormal(Tensor.zeros(4))).getMessage());
    assertThrows(IllegalArgumentException.class, () -> Init.uniform(Tensor.zeros(2), 1, 0));
    assertThrows(IllegalArgumentException.class, () -> Init.normal(Tensor.zeros(2), 0, -1));
    assertThrows(IllegalArgumentException.class, () -> Init.zeros(Tensor.labels(1, 2)));
    Tensor empty = Tensor.zeros(0, 4);
    assertSame(empty, Init.kaimingNormal(empty), "a zero-element tensor is left alone, as PyTorch's no-op");
    assertSame(empty, Init.xavierUniform(empty));
  }

  @Test
  void modulesWalkTheTreeOnceEach() {
    Linear shared = new Linear(4, 4);
    Sequential inner = Sequential.of(shared, new ReLU());
    Sequential net = Sequential.of(inner, shared, new Linear(4, 2));
    assertEquals(List.of("", "0", "0.0", "0.1", "2"), List.copyOf(net.namedModules().keySet()));
    assertSame(net, net.modules().get(0));
    int linears = 0;
    for (Module m : net.modules()) {
      if (m instanceof Linear l) {
        Init.kaimingNormal(l.weight(), 0, Init.FanMode.FAN_IN, Init.Nonlinearity.RELU);
        linears++;
      }
    }
    assertEquals(2, linears);
  }
}
