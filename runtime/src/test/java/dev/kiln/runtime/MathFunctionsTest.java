package dev.kiln.runtime;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kiln.runtime.cpu.PointwiseKernels.Unary;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The table-driven element-wise functions (rounding, sign, reciprocal, rsqrt, log1p, expm1, square;
 * maximum, minimum, atan2, lerp), the logical ops, all/any, prod and amax/amin: values against
 * PyTorch 1.13's (written out below, edge cases included), gradients against finite differences
 * and PyTorch's tie and zero rules, and the errors' messages.
 */
class MathFunctionsTest {
  private static final double EPS = 1e-2;
  private static final double ATOL = 2e-3;
  private static final double RTOL = 2e-3;

  @BeforeEach
  void seed() {
    Kiln.manualSeed(23);
  }

  private static Tensor in(float low, float span, int... shape) {
    return Tensor.uniform(low, low + span, shape).requiresGrad(true);
  }

  /** Random values on the grid {@code offset + k / 10}: two grids 0.05 apart keep maximum's operands off each other's kink. */
  private static Tensor grid(float offset, int... shape) {
    float[] d = Tensor.randn(shape).toFloatArray();
    for (int i = 0; i < d.length; i++) {
      d[i] = Math.round(d[i] * 10) / 10f + offset;
    }
    return Tensor.of(d, shape).requiresGrad(true);
  }

  private static Tensor of(float... v) {
    return Tensor.of(v.clone(), v.length);
  }

  @Test
  void roundingAndSignAsPyTorch() {
    Tensor x = of(-2.5f, -1.5f, -0.5f, 0.5f, 1.5f, 2.5f, -1.7f, 1.2f);
    assertArrayEquals(new float[] {-3, -2, -1, 0, 1, 2, -2, 1}, x.floor().toFloatArray());
    assertArrayEquals(new float[] {-2, -1, -0f, 1, 2, 3, -1, 2}, x.ceil().toFloatArray());
    assertArrayEquals(new float[] {-2, -2, -0f, 0, 2, 2, -2, 1}, x.round().toFloatArray()); // half to even, -0.5 to -0
    assertArrayEquals(new float[] {-2, -1, -0f, 0, 1, 2, -1, 1}, x.trunc().toFloatArray());
    assertArrayEquals(new float[] {-1, -1, -1, 1, 1, 1, -1, 1}, x.sign().toFloatArray());
    // sign of 0, -0 and NaN is +0, as PyTorch's CPU sign
    assertArrayEquals(new float[] {0, 0, 0}, of(0f, -0f, Float.NaN).sign().toFloatArray());
    // the step functions pass a zero gradient, as PyTorch's
    for (Unary f : new Unary[] {Unary.FLOOR, Unary.CEIL, Unary.ROUND, Unary.TRUNC, Unary.SIGN}) {
      Tensor t = in(-2, 4, 5);
      Ops.sum(Ops.pointwise(f, t)).backward();
      assertArrayEquals(new float[5], t.grad().toFloatArray(), f.opName);
    }
  }

  @Test
  void smoothFunctionsRoundOnceAndTheirGradients() {
    float[] v = {1e-7f, -1e-7f, 0.5f, 3f, -0.25f};
    Tensor x = of(v);
    float[] log1p = x.log1p().toFloatArray(), expm1 = x.expm1().toFloatArray(), sq = x.square().toFloatArray();
    float[] rec = x.reciprocal().toFloatArray();
    for (int i = 0; i < v.length; i++) {
      assertEquals((float) Math.log1p(v[i]), log1p[i], "log1p at " + v[i]);
      assertEquals((float) Math.expm1(v[i]), expm1[i], "expm1 at " + v[i]);
      assertEquals(v[i] * v[i], sq[i], "square at " + v[i]);
      assertEquals(1f / v[i], rec[i], "reciprocal at " + v[i]);
    }
    assertArrayEquals(new float[] {0.5f, 2f, Float.POSITIVE_INFINITY}, of(4f, 0.25f, 0f).rsqrt().toFloatArray());
    GradCheck.check("reciprocal", in -> in[0].reciprocal(), 1e-3, ATOL, RTOL, in(0.5f, 2, 3, 4));
    GradCheck.check("rsqrt", in -> in[0].rsqrt(), 1e-3, ATOL, RTOL, in(0.5f, 2, 3, 4));
    GradCheck.check("log1p", in -> in[0].log1p(), 1e-3, ATOL, RTOL, in(-0.5f, 2, 3, 4));
    GradCheck.check("expm1", in -> in[0].expm1(), EPS, ATOL, RTOL, in(-2, 3, 3, 4));
    GradCheck.check("square", in -> in[0].square(), EPS, ATOL, RTOL, in(-2, 4, 3, 4));
  }

  @Test
  void maximumAndMinimumSplitTiesAndPropagateNaN() {
    // PyTorch 1.13: maximum([1, 2, 3, nan], [1, 1, 4, 1]) = [1, 2, 4, nan], grads a [0.5, 1, 0, 1], b [0.5, 0, 1, 1]
    Tensor a = of(1, 2, 3, Float.NaN).requiresGrad(true), b = of(1, 1, 4, 1).requiresGrad(true);
    Tensor y = a.maximum(b);
    assertArrayEquals(new float[] {1, 2, 4, Float.NaN}, y.toFloatArray());
    y.backward(Tensor.ones(4));
    assertArrayEquals(new float[] {0.5f, 1, 0, 1}, a.grad().toFloatArray());
    assertArrayEquals(new float[] {0.5f, 0, 1, 1}, b.grad().toFloatArray());
    a.setGrad(null);
    b.setGrad(null);
    y = a.minimum(b);
    assertArrayEquals(new float[] {1, 1, 3, Float.NaN}, y.toFloatArray());
    y.backward(Tensor.ones(4));
    assertArrayEquals(new float[] {0.5f, 0, 1, 1}, a.grad().toFloatArray());
    assertArrayEquals(new float[] {0.5f, 1, 0, 1}, b.grad().toFloatArray());
    // broadcast: the smaller operand's gradient summed back
    GradCheck.check("maximum broadcast", in -> in[0].maximum(in[1]), EPS, ATOL, RTOL, grid(0.05f, 3, 4), grid(0, 4));
    GradCheck.check("minimum broadcast", in -> in[0].minimum(in[1]), EPS, ATOL, RTOL, grid(0.05f, 3, 1), grid(0, 1, 5));
    assertArrayEquals(new int[] {3, 5}, in(-1, 2, 3, 1).maximum(in(-1, 2, 1, 5)).shape());
  }

  @Test
  void atan2AndLerp() {
    // PyTorch: atan2([0, 0, -0], [0, -0, -1]) = [0, pi, -pi]
    assertArrayEquals(new float[] {0f, (float) Math.PI, (float) -Math.PI}, of(0f, 0f, -0f).atan2(of(0f, -0f, -1f)).toFloatArray());
    GradCheck.check("atan2", in -> in[0].atan2(in[1]), 1e-3, ATOL, RTOL, in(-1, 2, 3, 4), in(0.5f, 2, 4));
    assertArrayEquals(new float[] {2.5f, 8f}, of(1, 2).lerp(of(3, 10), 0.75f).toFloatArray());
    assertArrayEquals(new float[] {1.5f, 10f}, of(1, 2).lerp(of(3, 10), of(0.25f, 1f)).toFloatArray());
    GradCheck.check("lerp", in -> in[0].lerp(in[1], 0.3f), EPS, ATOL, RTOL, in(-1, 2, 3, 4), in(-1, 2, 4));
    GradCheck.check("lerp high", in -> in[0].lerp(in[1], 0.8f), EPS, ATOL, RTOL, in(-1, 2, 3, 4), in(-1, 2, 3, 4));
    GradCheck.check("lerp weights", in -> in[0].lerp(in[1], in[2]), EPS, ATOL, RTOL, in(-1, 2, 3, 4), in(-1, 2, 3, 4),
        Tensor.of(new float[] {0.1f, 0.3f, 0.7f, 0.9f}, 4).requiresGrad(true));
  }

  @Test
  void logicalOpsAreMasksWithoutGradient() {
    Tensor a = of(Float.NaN, 0, 1, 2), b = of(1, 1, 0, 3);
    assertArrayEquals(new float[] {1, 0, 0, 1}, a.logicalAnd(b).toFloatArray()); // NaN is true, as PyTorch's
    assertArrayEquals(new float[] {1, 1, 1, 1}, a.logicalOr(b).toFloatArray());
    assertArrayEquals(new float[] {0, 1, 1, 0}, a.logicalXor(b).toFloatArray());
    assertArrayEquals(new float[] {0, 1, 0, 0}, a.logicalNot().toFloatArray());
    Tensor g = in(-1, 2, 2, 3);
    Tensor m = g.gt(0).logicalAnd(g.lt(0.5f).reshape(2, 3));
    assertNull(m.gradFn());
    assertArrayEquals(new int[] {2, 3}, m.shape());
    // labels work as masks, broadcast
    assertArrayEquals(new float[] {0, 1, 0, 1}, Tensor.labels(0, 3).logicalAnd(of(1, 1).reshape(2, 1)).reshape(4).toFloatArray());
  }

  @Test
  void allAndAny() {
    Tensor x = Tensor.of(new float[] {1, 0, 0, 0}, 2, 2);
    assertEquals(0f, x.all().item());
    assertEquals(1f, x.any().item());
    assertArrayEquals(new float[] {0, 0}, x.all(1).toFloatArray()); // PyTorch: [False, False]
    assertArrayEquals(new float[] {1, 0}, x.any(0).toFloatArray()); // PyTorch: [True, False]
    assertArrayEquals(new int[] {2, 1}, x.any(1, true).shape());
    assertEquals(1f, of(Float.NaN, 2).all().item()); // NaN is true
    assertEquals(1f, Tensor.zeros(0).all().item()); // empty: all true, any false
    assertEquals(0f, Tensor.zeros(0).any().item());
    assertArrayEquals(new float[] {1, 1}, Tensor.zeros(2, 0).all(1).toFloatArray());
    var e = assertThrows(IllegalArgumentException.class, () -> x.all(2));
    assertTrue(e.getMessage().startsWith("all of shape [2, 2]: dimension 2 is out of range"), e.getMessage());
  }

  @Test
  void prodAndItsGradientWithZeros() {
    // PyTorch: x = [[1, -2], [3, 0.5]], prod(0) with gradient [1, 2]: [3, -1], dx [[3, 1], [1, -4]]
    Tensor x = Tensor.of(new float[] {1, -2, 3, 0.5f}, 2, 2).requiresGrad(true);
    Tensor y = x.prod(0);
    assertArrayEquals(new float[] {3, -1}, y.toFloatArray());
    y.backward(of(1, 2));
    assertArrayEquals(new float[] {3, 1, 1, -4}, x.grad().toFloatArray());
    // PyTorch: [[2, 0, 3], [0, 0, 1], [1, 2, 3]].prod(1) = [0, 0, 6], dx [[0, 6, 0], [0, 0, 0], [6, 3, 2]]
    Tensor z = Tensor.of(new float[] {2, 0, 3, 0, 0, 1, 1, 2, 3}, 3, 3).requiresGrad(true);
    Tensor p = z.prod(1);
    assertArrayEquals(new float[] {0, 0, 6}, p.toFloatArray());
    p.backward(Tensor.ones(3));
    assertArrayEquals(new float[] {0, 6, 0, 0, 0, 0, 6, 3, 2}, z.grad().toFloatArray());
    z.setGrad(null);
    z.prod().backward(); // three zeros: all gradients 0
    assertArrayEquals(new float[9], z.grad().toFloatArray());
    assertEquals(1f, Tensor.zeros(0).prod().item());
    assertArrayEquals(new int[] {3, 1}, z.prod(1, true).shape());
    GradCheck.check("prod dim", in -> in[0].prod(1), EPS, ATOL, RTOL, in(0.5f, 1, 3, 4, 2));
    GradCheck.check("prod all", in -> in[0].prod(), EPS, ATOL, RTOL, in(0.5f, 1, 2, 3));
  }

  @Test
  void amaxSharesTheGradientAmongTies() {
    // PyTorch: [[1, 3, 3], [2, 2, 2]].amax(1) = [3, 2], dx of the sum [[0, .5, .5], [1/3, 1/3, 1/3]]
    Tensor x = Tensor.of(new float[] {1, 3, 3, 2, 2, 2}, 2, 3).requiresGrad(true);
    Tensor y = x.amax(1);
    assertArrayEquals(new float[] {3, 2}, y.toFloatArray());
    y.sum().backward();
    assertArrayEquals(new float[] {0, 0.5f, 0.5f, 1f / 3, 1f / 3, 1f / 3}, x.grad().toFloatArray(), 1e-7f);
    assertArrayEquals(new float[] {1}, x.detach().amin().reshape(1).toFloatArray());
    assertArrayEquals(new int[] {1, 1}, x.detach().amin(new int[] {0, 1}, true).shape());
    GradCheck.check("amax dims", in -> in[0].amax(0, 2), EPS, ATOL, RTOL, in(-1, 2, 3, 2, 4));
    GradCheck.check("amin keep", in -> in[0].amin(new int[] {-1}, true), EPS, ATOL, RTOL, in(-1, 2, 3, 4));
    var e = assertThrows(IllegalArgumentException.class, () -> x.amax(1, 1));
    assertTrue(e.getMessage().startsWith("amax over dimensions [1, 1] of shape [2, 3]"), e.getMessage());
    e = assertThrows(IllegalArgumentException.class, () -> Tensor.zeros(2, 0).amax(1));
    assertTrue(e.getMessage().contains("dimension 1 has size 0"), e.getMessage());
  }

  @Test
  void errorsNameTheOpAndTheArgument() {
    var e = assertThrows(IllegalArgumentException.class, () -> Tensor.zeros(2, 3).maximum(Tensor.zeros(4)));
    assertTrue(e.getMessage().startsWith("maximum: shapes [2, 3] and [4] do not broadcast"), e.getMessage());
    e = assertThrows(IllegalArgumentException.class, () -> Tensor.labels(1, 2).floor());
    assertEquals("floor: expected a float tensor, got INT32 of shape [2]", e.getMessage());
    e = assertThrows(IllegalArgumentException.class, () -> Tensor.zeros(2, 3).prod(2));
    assertTrue(e.getMessage().startsWith("prod of shape [2, 3]: dimension 2 is out of range"), e.getMessage());
    e = assertThrows(IllegalArgumentException.class, () -> Tensor.zeros(2).logicalOr(Tensor.zeros(3)));
    assertTrue(e.getMessage().startsWith("logical_or: shapes [2] and [3]"), e.getMessage());
  }
}
