package dev.kiln.runtime;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.function.BinaryOperator;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * PyTorch's broadcasting in add, sub, mul and div, and {@code expand}: values and gradients against
 * a reference written here with index arithmetic (each output element's operands found from its
 * coordinates), independent of the ops' expand-then-combine implementation.
 */
class BroadcastTest {
  @BeforeEach
  void seed() {
    Kiln.manualSeed(5);
  }

  @Test
  void broadcastShapes() {
    assertArrayEquals(new int[] {2, 3, 4}, Shapes.broadcast("add", new int[] {2, 1, 4}, new int[] {3, 1}));
    assertArrayEquals(new int[] {5, 4}, Shapes.broadcast("add", new int[] {5, 1}, new int[] {4}));
    assertArrayEquals(new int[] {3}, Shapes.broadcast("add", new int[] {}, new int[] {3}));
    assertArrayEquals(new int[] {0, 3}, Shapes.broadcast("add", new int[] {0, 1}, new int[] {1, 3}));
    var e = assertThrows(IllegalArgumentException.class, () -> Shapes.broadcast("mul", new int[] {2, 3}, new int[] {4, 1, 2}));
    assertEquals("mul: shapes [2, 3] and [4, 1, 2] do not broadcast: sizes 3 and 2 at dimension 2 of the result"
        + " (aligned from the last dimension, sizes must be equal or 1)", e.getMessage());
  }

  /** Every pair PyTorch broadcasts that Kiln's kernels do not take as they are (b a suffix of a). */
  private static final int[][][] PAIRS = {
    {{4, 1}, {1, 5}}, // column beside row: both stretch
    {{3, 1}, {5}},
    {{2, 3, 4, 5}, {3, 1, 1}}, // squeeze-and-excitation: a channel scale
    {{2, 3, 4, 5}, {2, 3, 1, 1}},
    {{3, 1, 1}, {2, 3, 4, 5}}, // the small one first
    {{5}, {3, 5}}, // a suffix of b: the operands swap
    {{}, {2, 3}},
    {{2, 1, 4}, {1, 3, 1}},
    {{1, 1}, {1}},
    {{2, 1, 3, 1}, {4, 1, 5}},
    {{0, 1}, {1, 3}}, // a size 0 stretches nothing
    {{3, 1}, {0}},
  };

  @Test
  void valuesAndGradientsMatchTheIndexReference() {
    for (int[][] pair : PAIRS) {
      check("add", pair, Ops::add, (x, y) -> x + y, (x, y) -> 1f, (x, y) -> 1f);
      check("sub", pair, Ops::sub, (x, y) -> x - y, (x, y) -> 1f, (x, y) -> -1f);
      check("mul", pair, Ops::mul, (x, y) -> x * y, (x, y) -> y, (x, y) -> x);
      check("div", pair, Ops::div, (x, y) -> x * (1f / y), (x, y) -> 1f / y, (x, y) -> -x / (y * y));
    }
  }

  @FunctionalInterface
  private interface F2 {
    float at(float x, float y);
  }

  private static void check(String name, int[][] pair, BinaryOperator<Tensor> op, F2 value, F2 dA, F2 dB) {
    String what = name + " " + Shapes.toString(pair[0]) + " " + Shapes.toString(pair[1]);
    Tensor a = Tensor.uniform(0.5f, 2f, pair[0]).requiresGrad(true);
    Tensor b = Tensor.uniform(0.5f, 2f, pair[1]).requiresGrad(true);
    Tensor out = op.apply(a, b);
    int[] shape = Shapes.broadcast(name, pair[0], pair[1]);
    assertArrayEquals(shape, out.shape(), what + ": shape");
    Tensor w = Tensor.randn(shape);
    Ops.sum(Ops.mul(out, w)).backward();

    float[] av = a.toFloatArray(), bv = b.toFloatArray(), wv = w.toFloatArray(), got = out.toFloatArray();
    double[] ga = new double[av.length], gb = new double[bv.length];
    int[] index = new int[shape.length];
    for (int i = 0; i < got.length; i++) {
      int ia = source(index, shape, pair[0]), ib = source(index, shape, pair[1]);
      float x = av[ia], y = bv[ib];
      assertEquals(value.at(x, y), got[i], 1e-6f * Math.abs(value.at(x, y)), what + ": value at flat " + i);
      ga[ia] += (double) wv[i] * dA.at(x, y);
      gb[ib] += (double) wv[i] * dB.at(x, y);
      next(index, shape);
    }
    assertClose(ga, a.grad().toFloatArray(), what + ": a's gradient");
    assertClose(gb, b.grad().toFloatArray(), what + ": b's gradient");
    assertArrayEquals(pair[0], a.grad().shape(), what + ": a's gradient shape");
    assertArrayEquals(pair[1], b.grad().shape(), what + ": b's gradient shape");
  }

  /** The flat index in an operand of {@code own} shape that the output coordinates {@code index} read. */
  private static int source(int[] index, int[] shape, int[] own) {
    int lead = shape.length - own.length, flat = 0;
    for (int d = 0; d < own.length; d++) {
      flat = flat * own[d] + (own[d] == 1 ? 0 : index[d + lead]);
    }
    return flat;
  }

  private static void next(int[] index, int[] shape) {
    for (int d = shape.length - 1; d >= 0; d--) {
      if (++index[d] < shape[d]) {
        return;
      }
      index[d] = 0;
    }
  }

  private static void assertClose(double[] want, float[] got, String what) {
    assertEquals(want.length, got.length, what + ": size");
    for (int i = 0; i < want.length; i++) {
      assertEquals(want[i], got[i], 1e-4 * (1 + Math.abs(want[i])), what + " at " + i);
    }
  }

  @Test
  void expandRepeatsSizeOneDimensionsAndSumsTheGradientBack() {
    Tensor x = Tensor.of(new float[] {1, 2, 3}, 3, 1).requiresGrad(true);
    Tensor e = x.expand(2, -1, 4);
    assertArrayEquals(new int[] {2, 3, 4}, e.shape());
    assertArrayEquals(new float[] {1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3}, e.toFloatArray());
    Ops.sum(e).backward();
    assertArrayEquals(new float[] {8, 8, 8}, x.grad().toFloatArray());
    assertArrayEquals(new int[] {3, 1}, x.grad().shape());
    Tensor same = x.expand(3, 1);
    same.buffer()[same.offset()] = 99; // a copy, as documented, even where nothing stretches
    assertEquals(1f, x.get(0, 0));
    Tensor lead = x.expand(1, 3, 1);
    lead.buffer()[lead.offset()] = 99;
    assertEquals(1f, x.get(0, 0));
    x.setGrad(null);
    Ops.sum(same).backward();
    assertArrayEquals(new float[] {1, 1, 1}, x.grad().toFloatArray());
    try (var g = Kiln.noGrad()) {
      assertFalse(x.expand(3, 1).requiresGrad());
    }
    assertArrayEquals(new int[] {3, 5}, x.expandAs(Tensor.zeros(3, 5)).shape());
    assertArrayEquals(new int[] {0, 3, 1}, x.expand(0, 3, 1).shape());
  }

  @Test
  void expandErrorsNameBothShapes() {
    Tensor x = Tensor.zeros(3, 2);
    assertEquals("expand: shape [3, 2] does not expand to [3, 4]: size 2 at dimension 1 is neither 4 nor 1",
        assertThrows(IllegalArgumentException.class, () -> x.expand(3, 4)).getMessage());
    assertEquals("expand: shape [3, 2] does not expand to [2]: it has fewer dimensions",
        assertThrows(IllegalArgumentException.class, () -> x.expand(2)).getMessage());
    assertEquals("expand: shape [3, 2] does not expand to []: it has fewer dimensions",
        assertThrows(IllegalArgumentException.class, () -> x.expand()).getMessage());
    assertEquals("expand: shape [3, 2] does not expand to [-1, 3, 2]: size -1 at dimension 0"
            + " (-1 only keeps an existing dimension's size)",
        assertThrows(IllegalArgumentException.class, () -> x.expand(-1, 3, 2)).getMessage());
    assertEquals("expand: shape [3, 2] does not expand to [-3, 2]: size -3 at dimension 0 (sizes are 0 or more, or -1 to keep one)",
        assertThrows(IllegalArgumentException.class, () -> x.expand(-3, 2)).getMessage());
  }

  @Test
  void shapesThatDoNotBroadcastAreRefusedNamingBoth() {
    var e = assertThrows(IllegalArgumentException.class, () -> Tensor.zeros(4, 3).add(Tensor.zeros(4)));
    assertEquals("add: shapes [4, 3] and [4] do not broadcast: sizes 3 and 4 at dimension 1 of the result"
        + " (aligned from the last dimension, sizes must be equal or 1)", e.getMessage());
    e = assertThrows(IllegalArgumentException.class, () -> Tensor.zeros(2, 3).div(Tensor.zeros(3, 3)));
    assertEquals("div: shapes [2, 3] and [3, 3] do not broadcast: sizes 2 and 3 at dimension 0 of the result"
        + " (aligned from the last dimension, sizes must be equal or 1)", e.getMessage());
  }

  @Test
  void labelTensorsPromoteWithFloatsAndExpandAsIds() { // (IdArithmeticTest: their own arithmetic)
    Tensor f = Tensor.ones(3);
    Tensor labels = Tensor.labels(0, 1, 2);
    Tensor diff = f.sub(labels);
    assertEquals(DType.FLOAT32, diff.dtype());
    assertArrayEquals(new float[] {1, 0, -1}, diff.toFloatArray());
    assertArrayEquals(new float[] {0, 0.5f, 1}, labels.div(f.mul(2f)).toFloatArray());
    Tensor expanded = labels.expand(2, 3);
    assertEquals(DType.INT32, expanded.dtype());
    assertArrayEquals(new float[] {0, 1, 2, 0, 1, 2}, expanded.toFloatArray());
  }

  @Test
  void theTutorialsNormalisationByKeptDimensions() {
    // x - x.mean(1, keepdim=True) and x / x.sum(1, keepdim=True): [N, C] against [N, 1]
    Tensor x = Tensor.of(new float[] {1, 2, 3, 4, 6, 8}, 2, 3);
    assertArrayEquals(new float[] {-1, 0, 1, -2, 0, 2}, x.sub(x.mean(1, true)).toFloatArray());
    assertArrayEquals(new float[] {1 / 6f, 2 / 6f, 3 / 6f, 4 / 18f, 6 / 18f, 8 / 18f}, x.div(x.sum(1, true)).toFloatArray(), 1e-7f);
  }
}
