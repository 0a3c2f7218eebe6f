package dev.kiln.runtime;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** exp, log, sqrt, abs, neg, pow, sub, div: values as Java's Math rounded once, gradients against finite differences. */
class MathOpsTest {
  private static final double EPS = 1e-2;
  private static final double ATOL = 2e-3;
  private static final double RTOL = 2e-3;

  @BeforeEach
  void seed() {
    Kiln.manualSeed(17);
  }

  /** Values in [low, low + span), for ops defined on part of the line. */
  private static Tensor in(float low, float span, int... shape) {
    return Tensor.uniform(low, low + span, shape).requiresGrad(true);
  }

  @Test
  void gradients() {
    GradCheck.check("exp", in -> Ops.exp(in[0]), EPS, ATOL, RTOL, in(-2, 3, 3, 4));
    GradCheck.check("log", in -> Ops.log(in[0]), 1e-3, ATOL, RTOL, in(0.5f, 3, 3, 4));
    GradCheck.check("sqrt", in -> Ops.sqrt(in[0]), 1e-3, ATOL, RTOL, in(0.5f, 3, 3, 4));
    GradCheck.check("abs", in -> Ops.abs(in[0]), EPS, ATOL, RTOL, GradCheck.awayFromZero(0.05f, 4, 5).requiresGrad(true));
    GradCheck.check("neg", in -> Ops.neg(in[0]), EPS, ATOL, RTOL, in(-2, 4, 6));
    GradCheck.check("pow 3", in -> Ops.pow(in[0], 3f), EPS, ATOL, RTOL, in(-2, 4, 2, 5));
    GradCheck.check("pow -0.5", in -> Ops.pow(in[0], -0.5f), 1e-3, ATOL, RTOL, in(0.5f, 2, 2, 5));
    GradCheck.check("sub", in -> Ops.sub(in[0], in[1]), EPS, ATOL, RTOL, in(-1, 2, 3, 4), in(-1, 2, 3, 4));
    GradCheck.check("sub broadcast", in -> Ops.sub(in[0], in[1]), EPS, ATOL, RTOL, in(-1, 2, 3, 4), in(-1, 2, 4));
    GradCheck.check("div", in -> Ops.div(in[0], in[1]), 1e-3, ATOL, RTOL, in(-1, 2, 3, 4), in(0.5f, 2, 3, 4));
    GradCheck.check("div broadcast", in -> Ops.div(in[0], in[1]), 1e-3, ATOL, RTOL, in(-1, 2, 3, 4), in(0.5f, 2, 4));
  }

  @Test
  void valuesAreMathsRoundedOnceIncludingTheEdges() {
    float[] x = {0f, -0f, 1f, -1f, 0.5f, 2f, 1e-30f, 88f, 89f, -104f, Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY, Float.NaN};
    Tensor t = Tensor.of(x.clone(), x.length);
    float[] exp = t.exp().toFloatArray(), log = t.log().toFloatArray(), sqrt = t.sqrt().toFloatArray();
    float[] abs = t.abs().toFloatArray(), neg = t.neg().toFloatArray(), cube = t.pow(3f).toFloatArray();
    float[] root = t.pow(0.5f).toFloatArray();
    for (int i = 0; i < x.length; i++) {
      String at = " at " + x[i];
      assertEquals(Float.floatToIntBits((float) Math.exp(x[i])), Float.floatToIntBits(exp[i]), "exp" + at);
      assertEquals(Float.floatToIntBits((float) Math.log(x[i])), Float.floatToIntBits(log[i]), "log" + at);
      assertEquals(Float.floatToIntBits((float) Math.sqrt(x[i])), Float.floatToIntBits(sqrt[i]), "sqrt" + at);
      assertEquals(Float.floatToIntBits(Math.abs(x[i])), Float.floatToIntBits(abs[i]), "abs" + at);
      assertEquals(Float.floatToIntBits(-x[i]), Float.floatToIntBits(neg[i]), "neg" + at);
      assertEquals(Float.floatToIntBits((float) Math.pow(x[i], 3)), Float.floatToIntBits(cube[i]), "pow 3" + at);
      assertEquals(Float.floatToIntBits((float) Math.pow(x[i], 0.5)), Float.floatToIntBits(root[i]), "pow 0.5" + at);
    }
    assertArrayEquals(new float[] {1.5f, -2f}, Tensor.of(new float[] {3, -4}, 2).div(2f).toFloatArray());
    assertArrayEquals(new float[] {2f, 2f}, Tensor.of(new float[] {3, 5}, 2).sub(Tensor.of(new float[] {1, 3}, 2)).toFloatArray());
    assertArrayEquals(new float[] {2f, -0.25f}, Tensor.of(new float[] {6, -1}, 2).div(Tensor.of(new float[] {3, 4}, 2)).toFloatArray());
  }

  /**
   * sub and div on the CPU are PyTorch's arithmetic to the bit over every broadcast form (one shape,
   * the right or the left operand repeated along one run, both stretched): {@code a - b}, a true
   * quotient {@code a / b}, gradients {@code g}, {@code -g}, {@code g / b}, {@code -g * ((a / b) / b)},
   * a repeated operand's summed over its repeats in double in index order.
   */
  @Test
  void subAndDivAreTorchsArithmeticOverEveryBroadcast() {
    int[][][] pairs = {
      {{2, 3, 4}, {2, 3, 4}}, {{2, 3, 4}, {3, 1}}, {{2, 3, 1}, {2, 3, 4}}, {{4}, {2, 3, 4}},
      {{2, 1, 4}, {1, 3, 1}}, {{2, 3, 4}, {}}
    };
    for (int[][] pair : pairs) {
      for (String op : new String[] {"sub", "div"}) {
        boolean div = op.equals("div");
        Tensor a = Tensor.uniform(-2, 2, pair[0]).requiresGrad(true);
        Tensor b = (div ? Tensor.uniform(0.3f, 3, pair[1]) : Tensor.uniform(-2, 2, pair[1])).requiresGrad(true);
        Tensor y = div ? a.div(b) : a.sub(b);
        int[] shape = Shapes.broadcast(op, pair[0], pair[1]);
        Tensor g = Tensor.uniform(-1, 1, shape);
        y.backward(g);
        float[] av = a.toFloatArray(), bv = b.toFloatArray(), gv = g.toFloatArray(), yv = y.toFloatArray();
        int[] ai = index(shape, pair[0]), bi = index(shape, pair[1]);
        double[] da = new double[av.length], db = new double[bv.length];
        String what = op + " " + java.util.Arrays.toString(pair[0]) + " " + java.util.Arrays.toString(pair[1]);
        for (int i = 0; i < yv.length; i++) {
          float want = div ? av[ai[i]] / bv[bi[i]] : av[ai[i]] - bv[bi[i]];
          assertEquals(Float.floatToIntBits(want), Float.floatToIntBits(yv[i]), what + " value " + i);
          da[ai[i]] += div ? gv[i] / bv[bi[i]] : gv[i];
          db[bi[i]] += div ? -gv[i] * (want / bv[bi[i]]) : -gv[i];
        }
        assertArrayEquals(toFloats(da), a.grad().toFloatArray(), 1e-6f, what + " grad a");
        assertArrayEquals(toFloats(db), b.grad().toFloatArray(), 1e-6f, what + " grad b");
        assertEquals(op, y.gradFn().name(), what);
      }
    }
  }

  /** The flat index into an operand of shape {@code own} that each element of the broadcast {@code shape} reads. */
  private static int[] index(int[] shape, int[] own) {
    int n = Shapes.numel(shape);
    int[] out = new int[n];
    for (int i = 0; i < n; i++) {
      int rest = i, at = 0, stride = 1;
      for (int d = shape.length - 1; d >= 0; d--) {
        int coord = rest % shape[d];
        rest /= shape[d];
        int od = d - (shape.length - own.length);
        if (od >= 0) {
          at += (own[od] == 1 ? 0 : coord) * stride;
          stride *= own[od];
        }
      }
      out[i] = at;
    }
    return out;
  }

  private static float[] toFloats(double[] v) {
    float[] out = new float[v.length];
    for (int i = 0; i < v.length; i++) {
      out[i] = (float) v[i];
    }
    return out;
  }

  @Test
  void gradientsAtTheEdgesAreTorchs() {
    Tensor x = Tensor.of(new float[] {0f, -0f, 2f, -3f}, 4).requiresGrad(true);
    Ops.sum(Ops.abs(x)).backward();
    assertArrayEquals(new float[] {0f, 0f, 1f, -1f}, x.grad().toFloatArray(), "abs: sign, 0 at 0");
    Tensor s = Tensor.of(new float[] {0f, 4f}, 2).requiresGrad(true);
    Ops.sum(Ops.sqrt(s)).backward();
    assertArrayEquals(new float[] {Float.POSITIVE_INFINITY, 0.25f}, s.grad().toFloatArray(), "sqrt: infinite at 0");
    Tensor p = Tensor.of(new float[] {0f, 5f}, 2).requiresGrad(true);
    Ops.sum(Ops.pow(p, 0f)).backward();
    assertArrayEquals(new float[] {0f, 0f}, p.grad().toFloatArray(), "pow 0: no gradient, even at 0");
    var e = assertThrows(IllegalArgumentException.class, () -> Ops.pow(p, Float.NaN));
    assertTrue(e.getMessage().contains("exponent must be finite"), e.getMessage());
  }

  @Test
  void largeInputsSplitOverTheCoresGiveTheSameValues() {
    Tensor x = Tensor.randn(100_003);
    float[] v = x.toFloatArray();
    float[] exp = x.exp().toFloatArray(), pow = x.pow(1.7f).toFloatArray();
    for (int i = 0; i < v.length; i++) {
      assertEquals((float) Math.exp(v[i]), exp[i]);
      assertEquals(Float.floatToIntBits((float) Math.pow(v[i], 1.7f)), Float.floatToIntBits(pow[i]));
    }
  }

  @Test
  void sumAndMeanAlongADimension() {
    Tensor x = Tensor.of(new float[] {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}, 2, 3, 2);
    assertArrayEquals(new int[] {3, 2}, x.sum(0).shape());
    assertArrayEquals(new float[] {8, 10, 12, 14, 16, 18}, x.sum(0).toFloatArray());
    assertArrayEquals(new float[] {9, 12, 27, 30}, x.sum(1).toFloatArray());
    assertArrayEquals(new int[] {2, 1, 2}, x.sum(1, true).shape());
    assertArrayEquals(new float[] {3, 7, 11, 15, 19, 23}, x.sum(-1).toFloatArray());
    assertArrayEquals(new float[] {3, 4, 9, 10}, x.mean(1).toFloatArray());
    assertArrayEquals(new int[] {2, 3, 1}, x.mean(2, true).shape());
    assertArrayEquals(new int[0], Tensor.of(new float[] {1, 2}, 2).sum(0).shape(), "a vector's sum along 0 is a scalar");

    GradCheck.check("sum dim 1", in -> Ops.sum(in[0], 1, false), EPS, ATOL, RTOL, in(-1, 2, 2, 3, 4));
    GradCheck.check("mean dim -1 keepdim", in -> Ops.mean(in[0], -1, true), EPS, ATOL, RTOL, in(-1, 2, 2, 3, 4));
    GradCheck.check("mean dim 0", in -> Ops.mean(in[0], 0, false), EPS, ATOL, RTOL, in(-1, 2, 5, 3));

    var e = assertThrows(IllegalArgumentException.class, () -> x.sum(3));
    assertTrue(e.getMessage().startsWith("sum of shape [2, 3, 2]"), e.getMessage());
    e = assertThrows(IllegalArgumentException.class, () -> Tensor.zeros(2, 0).mean(1));
    assertTrue(e.getMessage().contains("size 0"), e.getMessage());
    assertArrayEquals(new float[] {0, 0}, Tensor.zeros(2, 0).sum(1).toFloatArray(), "an empty sum is 0");
  }

  @Test
  void sumAlongLargeRowsSplitsOverTheCoresInDouble() {
    Tensor x = Tensor.randn(40_000, 3);
    float[] v = x.toFloatArray();
    float[] rows = x.sum(1).toFloatArray();
    float[] cols = x.sum(0).toFloatArray();
    double[] want = new double[3];
    for (int r = 0; r < 40_000; r++) {
      assertEquals((float) ((double) v[3 * r] + v[3 * r + 1] + v[3 * r + 2]), rows[r]);
      for (int c = 0; c < 3; c++) {
        want[c] += v[3 * r + c];
      }
    }
    for (int c = 0; c < 3; c++) {
      assertEquals((float) want[c], cols[c]);
    }
  }

  @Test
  void transposeOfAMatrix() {
    Tensor x = Tensor.of(new float[] {1, 2, 3, 4, 5, 6}, 2, 3);
    assertArrayEquals(new int[] {3, 2}, x.t().shape());
    assertArrayEquals(new float[] {1, 4, 2, 5, 3, 6}, x.t().toFloatArray());
    Tensor big = Tensor.randn(70, 45);
    assertArrayEquals(big.toFloatArray(), big.t().t().toFloatArray(), "tiles past the edges");
    GradCheck.check("transpose", in -> Ops.matmul(Ops.transpose(in[0]), in[1]), EPS, ATOL, RTOL, in(-1, 2, 4, 3), in(-1, 2, 4, 2));
    var e = assertThrows(IllegalArgumentException.class, () -> Tensor.randn(2, 3, 4).t());
    assertTrue(e.getMessage().contains("transpose"), e.getMessage());
  }

  @Test
  void eqCountsMatchingPredictions() {
    Tensor logits = Tensor.of(new float[] {0.1f, 2f, 0.3f, 5f, 1f, 0f, 0f, 0f, 9f}, 3, 3);
    Tensor labels = Tensor.labels(1, 2, 2);
    Tensor hits = logits.argmax(1).eq(labels);
    assertArrayEquals(new float[] {1, 0, 1}, hits.toFloatArray());
    assertEquals(DType.FLOAT32, hits.dtype());
    assertEquals(2f, hits.sum().item());
    assertArrayEquals(new float[] {0, 1}, Tensor.of(new float[] {Float.NaN, 1}, 2).eq(Tensor.of(new float[] {Float.NaN, 1}, 2))
        .toFloatArray(), "NaN equals nothing");
    var e = assertThrows(IllegalArgumentException.class, () -> labels.eq(Tensor.labels(1, 2)));
    assertTrue(e.getMessage().contains("[3]") && e.getMessage().contains("[2]"), e.getMessage());
  }
}
