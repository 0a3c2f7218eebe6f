package dev.kiln.runtime;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;

/**
 * narrow, slice, select, unsqueeze, squeeze, cat, stack, var and std on the CPU: values and
 * gradients against PyTorch 1.13 (the literals below were printed by torch with the inputs and
 * output gradients given next to them), gradients also against finite differences, inputs that
 * start at an offset into their storage, and the messages for bad arguments.
 */
class ShapeOpsTest {
  private static final double EPS = 1e-2;
  private static final double ATOL = 2e-3;
  private static final double RTOL = 2e-3;

  @BeforeEach
  void seed() {
    Kiln.manualSeed(23);
  }

  /** {@code from, from + 1, ...}: n values. */
  private static float[] ramp(int n, float from) {
    float[] d = new float[n];
    for (int i = 0; i < n; i++) {
      d[i] = from + i;
    }
    return d;
  }

  /** torch.arange(24.).reshape(2, 3, 4), requiring grad. */
  private static Tensor arange234() {
    return Tensor.of(ramp(24, 0), 2, 3, 4).requiresGrad(true);
  }

  /**
   * Back-propagates {@code 1, 2, ..., n} (the scripts' {@code torch.arange(1., n + 1)}) from {@code y}
   * and returns {@code x}'s gradient.
   */
  private static float[] gradient(Tensor x, Tensor y) {
    x.setGrad(null);
    y.backward(Tensor.wrap(ramp(y.numel(), 1), y.shape())); // wrap: Tensor.of reads an empty shape as [n]
    return x.grad().toFloatArray();
  }

  private static void assertShape(int[] expected, Tensor t, String what) {
    assertArrayEquals(expected, t.shape(), what + ": shape " + Shapes.toString(t.shape()));
  }

  private static void assertMessage(String expected, Executable call) {
    var e = assertThrows(IllegalArgumentException.class, call);
    assertEquals(expected, e.getMessage());
  }

  private static void assertMessageStarts(String prefix, Executable call) {
    var e = assertThrows(IllegalArgumentException.class, call);
    assertTrue(e.getMessage().startsWith(prefix), e.getMessage());
  }

  /** Each value within {@code 1e-6} relative (and absolute, near 0) of torch's; NaN matching NaN. */
  private static void assertClose(float[] expected, Tensor actual, String what) {
    float[] a = actual.toFloatArray();
    assertEquals(expected.length, a.length, what + ": element count");
    for (int i = 0; i < a.length; i++) {
      if (Float.isNaN(expected[i])) {
        assertTrue(Float.isNaN(a[i]), what + " at " + i + ": expected NaN, got " + a[i]);
        continue;
      }
      assertEquals(expected[i], a[i], 1e-6 * Math.max(1, Math.abs(expected[i])), what + " at " + i);
    }
  }

  // ------------------------------------------------------------------ narrow, slice, select

  @Test
  void narrowCopiesTheSliceAndItsGradientIsZeroOutside() {
    // torch: x = torch.arange(24.).reshape(2, 3, 4); y = x.narrow(1, 1, 2); y.backward(torch.arange(1., 17).reshape(2, 2, 4))
    Tensor x = arange234();
    Tensor y = x.narrow(1, 1, 2);
    assertShape(new int[] {2, 2, 4}, y, "narrow(1, 1, 2)");
    assertArrayEquals(new float[] {4, 5, 6, 7, 8, 9, 10, 11, 16, 17, 18, 19, 20, 21, 22, 23}, y.toFloatArray());
    assertEquals("narrow", y.gradFn().name());
    assertArrayEquals(new float[] {0, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 0, 0, 0, 0, 9, 10, 11, 12, 13, 14, 15, 16},
        gradient(x, y));

    // torch: x.narrow(-1, -3, 2), gradient torch.arange(1., 13).reshape(2, 3, 2)
    y = x.narrow(-1, -3, 2);
    assertShape(new int[] {2, 3, 2}, y, "narrow(-1, -3, 2)");
    assertArrayEquals(new float[] {1, 2, 5, 6, 9, 10, 13, 14, 17, 18, 21, 22}, y.toFloatArray());
    assertArrayEquals(new float[] {0, 1, 2, 0, 0, 3, 4, 0, 0, 5, 6, 0, 0, 7, 8, 0, 0, 9, 10, 0, 0, 11, 12, 0},
        gradient(x, y));

    // Along the first dimension (one row of the 2-d copy), the whole dimension, and nothing.
    assertArrayEquals(ramp(12, 12), x.narrow(0, 1, 1).toFloatArray());
    assertArrayEquals(x.toFloatArray(), x.narrow(2, 0, 4).toFloatArray());
    assertShape(new int[] {2, 3, 0}, x.narrow(2, 4, 0), "narrow(2, 4, 0)");
    assertShape(new int[] {2, 3, 0}, x.narrow(2, -4, 0), "narrow(2, -4, 0)");
  }

  @Test
  void narrowIsACopyNotAView() {
    Tensor x = Tensor.of(ramp(6, 0), 2, 3);
    Tensor y = x.narrow(1, 0, 2);
    y.buffer()[y.offset()] = 100f;
    assertEquals(0f, x.get(0, 0), "writing the narrowed copy left x alone");
    assertNotSame(x.buffer(), y.buffer());
  }

  @Test
  void sliceClampsItsBoundsAsPython() {
    // torch: x[:, :, 1:100], gradient torch.arange(1., 19).reshape(2, 3, 3)
    Tensor x = arange234();
    Tensor y = x.slice(2, 1, 100);
    assertShape(new int[] {2, 3, 3}, y, "x[:, :, 1:100]");
    assertArrayEquals(new float[] {1, 2, 3, 5, 6, 7, 9, 10, 11, 13, 14, 15, 17, 18, 19, 21, 22, 23}, y.toFloatArray());
    assertEquals("slice", y.gradFn().name());
    assertArrayEquals(new float[] {0, 1, 2, 3, 0, 4, 5, 6, 0, 7, 8, 9, 0, 10, 11, 12, 0, 13, 14, 15, 0, 16, 17, 18},
        gradient(x, y));

    // torch: x[:, -100:2], gradient torch.arange(1., 17).reshape(2, 2, 4)
    y = x.slice(1, -100, 2);
    assertShape(new int[] {2, 2, 4}, y, "x[:, -100:2]");
    assertArrayEquals(new float[] {0, 1, 2, 3, 4, 5, 6, 7, 12, 13, 14, 15, 16, 17, 18, 19}, y.toFloatArray());
    assertArrayEquals(new float[] {1, 2, 3, 4, 5, 6, 7, 8, 0, 0, 0, 0, 9, 10, 11, 12, 13, 14, 15, 16, 0, 0, 0, 0},
        gradient(x, y));

    // x[:, -1:] is the last row; an empty or reversed range gives size 0 (torch: x[:, 3:1].shape == [2, 0, 4]).
    assertArrayEquals(new float[] {8, 9, 10, 11, 20, 21, 22, 23}, x.slice(1, -1, Integer.MAX_VALUE).toFloatArray());
    assertShape(new int[] {2, 0, 4}, x.slice(1, 3, 1), "x[:, 3:1]");
    assertShape(new int[] {2, 0, 4}, x.slice(1, 5, 9), "x[:, 5:9]");
    assertShape(new int[] {0, 3, 4}, x.slice(0, Integer.MIN_VALUE, -2), "x[-big:-2]");
    assertArrayEquals(x.toFloatArray(), x.slice(-1, Integer.MIN_VALUE, Integer.MAX_VALUE).toFloatArray(), "x[..., :]");
  }

  @Test
  void selectRemovesTheDimension() {
    // torch: x.select(1, -1), gradient torch.arange(1., 9).reshape(2, 4)
    Tensor x = arange234();
    Tensor y = x.select(1, -1);
    assertShape(new int[] {2, 4}, y, "select(1, -1)");
    assertArrayEquals(new float[] {8, 9, 10, 11, 20, 21, 22, 23}, y.toFloatArray());
    assertEquals("select", y.gradFn().name());
    assertArrayEquals(new float[] {0, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4, 0, 0, 0, 0, 0, 0, 0, 0, 5, 6, 7, 8}, gradient(x, y));

    // torch: x.select(0, 1), gradient torch.arange(1., 13).reshape(3, 4)
    y = x.select(0, 1);
    assertShape(new int[] {3, 4}, y, "select(0, 1)");
    assertArrayEquals(ramp(12, 12), y.toFloatArray());
    float[] expected = new float[24];
    System.arraycopy(ramp(12, 1), 0, expected, 12, 12);
    assertArrayEquals(expected, gradient(x, y));

    Tensor v = Tensor.of(new float[] {5, 6, 7});
    assertShape(new int[0], v.select(0, -3), "select of a vector");
    assertEquals(5f, v.select(0, -3).item());
  }

  @Test
  void unbindGathersEverySlicesGradientInOneNode() {
    // torch: s = x.unbind(1); torch.cat([s[2], s[0]], 0), gradient torch.arange(1., 17).reshape(4, 4)
    Tensor x = arange234();
    Tensor[] s = x.unbind(1);
    assertEquals(3, s.length);
    for (int t = 0; t < 3; t++) {
      assertShape(new int[] {2, 4}, s[t], "unbind(1)[" + t + "]");
      assertArrayEquals(x.select(1, t).toFloatArray(), s[t].toFloatArray());
    }
    assertArrayEquals(new float[] {9, 10, 11, 12, 0, 0, 0, 0, 1, 2, 3, 4, 13, 14, 15, 16, 0, 0, 0, 0, 5, 6, 7, 8},
        gradient(x, Tensor.cat(List.of(s[2], s[0]), 0)));
    // torch: s = x.unbind(-1); y = s[3] * 2 + s[3]; y.backward(torch.arange(1., 7).reshape(2, 3)) twice (retain_graph)
    x.setGrad(null);
    s = x.unbind(-1);
    Tensor y = s[3].mul(2f).add(s[3]);
    Tensor g = Tensor.of(ramp(6, 1), 2, 3);
    y.backward(g, true);
    y.backward(g);
    assertArrayEquals(new float[] {0, 0, 0, 6, 0, 0, 0, 12, 0, 0, 0, 18, 0, 0, 0, 24, 0, 0, 0, 30, 0, 0, 0, 36}, x.grad().toFloatArray());
    // labels, and tensors that need no gradient: plain copies without nodes
    Tensor[] rows = Tensor.labels(1, 2, 3, 4).reshape(2, 2).unbind(0);
    assertEquals(DType.INT32, rows[1].dtype());
    assertArrayEquals(new int[] {3, 4}, rows[1].toIntArray());
    assertNull(Tensor.of(ramp(6, 0), 2, 3).unbind(0)[1].gradFn());
    assertMessage("unbind: cannot be applied to a 0-dim tensor (shape [])", () -> Tensor.scalar(1f).unbind(0));
  }

  @Test
  void splitAndChunkCutAsPyTorchsAndGatherTheirGradientsInOneNode() {
    Tensor x = arange234();
    // torch: p = x.chunk(2, 1); y = torch.cat([p[1] * 2, p[0]], 1); gradient torch.arange(1., 25).reshape(2, 3, 4)
    Tensor[] p = x.chunk(2, 1);
    assertEquals(2, p.length);
    assertShape(new int[] {2, 2, 4}, p[0], "chunk(2, 1)[0]");
    assertShape(new int[] {2, 1, 4}, p[1], "chunk(2, 1)[1]");
    assertArrayEquals(new float[] {5, 6, 7, 8, 9, 10, 11, 12, 2, 4, 6, 8, 17, 18, 19, 20, 21, 22, 23, 24, 26, 28, 30, 32},
        gradient(x, Tensor.cat(List.of(p[1].mul(2f), p[0]), 1)));
    // torch: p = x.split([1, 3], -1); p[1] alone takes a gradient (p[0]'s place gets zeros)
    p = x.split(new int[] {1, 3}, -1);
    assertArrayEquals(new float[] {0, 4, 8, 12, 16, 20}, p[0].toFloatArray());
    assertShape(new int[] {2, 3, 3}, p[1], "split([1, 3], -1)[1]");
    assertArrayEquals(new float[] {0, 1, 2, 3, 0, 4, 5, 6, 0, 7, 8, 9, 0, 10, 11, 12, 0, 13, 14, 15, 0, 16, 17, 18},
        gradient(x, p[1]));
    // torch: p = x.split(3, -1) -> [2, 3, 3] and [2, 3, 1]; y = p[1] + p[1]
    p = x.split(3, -1);
    assertShape(new int[] {2, 3, 1}, p[1], "split(3, -1)[1]");
    assertArrayEquals(new float[] {3, 7, 11, 15, 19, 23}, p[1].toFloatArray());
    assertArrayEquals(new float[] {0, 0, 0, 2, 0, 0, 0, 4, 0, 0, 0, 6, 0, 0, 0, 8, 0, 0, 0, 10, 0, 0, 0, 12},
        gradient(x, p[1].add(p[1])));
    // counts as PyTorch's: 6 in 4 chunks is 2, 2, 2; 5 in 10 is five of 1; an empty dimension
    assertEquals(3, Tensor.zeros(6).chunk(4, 0).length);
    assertEquals(5, Tensor.zeros(5).chunk(10, 0).length);
    assertEquals(3, Tensor.zeros(0).chunk(3, 0).length);
    assertEquals(1, Tensor.zeros(0).split(0, 0).length);
    assertEquals(0, Tensor.zeros(2, 0).split(2, 1)[0].numel());
    assertArrayEquals(new int[] {3, 4}, Tensor.labels(1, 2, 3, 4).split(2, 0)[1].toIntArray());
    assertNull(Tensor.of(ramp(6, 0), 2, 3).chunk(3, 1)[1].gradFn());
    // and their errors
    assertMessage("split: split size 0 is only allowed along an empty dimension, but dimension 0 of [5] has size 5",
        () -> Tensor.zeros(5).split(0, 0));
    assertMessage("split: split size -1 is negative", () -> Tensor.zeros(5).split(-1, 0));
    assertMessage("split: lengths [2, 2] add up to 4, but dimension 0 of [5] has size 5",
        () -> Tensor.zeros(5).split(new int[] {2, 2}, 0));
    assertMessage("split: lengths [6, -1] include a negative one", () -> Tensor.zeros(5).split(new int[] {6, -1}, 0));
    assertMessage("chunk: chunks must be at least 1, got 0", () -> Tensor.zeros(5).chunk(0, 0));
    assertMessage("chunk: cannot be applied to a 0-dim tensor (shape [])", () -> Tensor.scalar(1f).chunk(2, 0));
  }

  @Test
  void narrowSelectSliceAndCatReadFromTheTensorsOffset() {
    // The values 0..5 as [2, 3] from index 3 of their array; the 99s around them must not leak in.
    float[] data = {99, 99, 99, 0, 1, 2, 3, 4, 5, 99, 99};
    Tensor x = Tensor.wrapAt(data, 3, 2, 3).requiresGrad(true);
    assertEquals(3, x.offset());
    Tensor plain = Tensor.of(ramp(6, 0), 2, 3);

    Tensor y = x.narrow(1, 1, 2);
    assertArrayEquals(new float[] {1, 2, 4, 5}, y.toFloatArray());
    assertArrayEquals(new float[] {0, 1, 2, 0, 3, 4}, gradient(x, y));
    assertArrayEquals(new float[] {3, 4, 5}, x.narrow(0, 1, 1).toFloatArray());
    assertArrayEquals(new float[] {2, 5}, x.select(1, 2).toFloatArray());
    assertArrayEquals(new float[] {3, 4, 5}, x.select(0, -1).toFloatArray());
    assertArrayEquals(new float[] {1, 2, 4, 5}, x.slice(1, 1, 3).toFloatArray());

    Tensor c = Tensor.cat(List.of(plain, x), 1);
    assertArrayEquals(new float[] {0, 1, 2, 0, 1, 2, 3, 4, 5, 3, 4, 5}, c.toFloatArray());
    assertArrayEquals(new float[] {4, 5, 6, 10, 11, 12}, gradient(x, c));
    assertArrayEquals(new float[] {0, 1, 2, 3, 4, 5, 0, 1, 2, 3, 4, 5}, Tensor.stack(List.of(x, plain), 0).toFloatArray());

    assertArrayEquals(plain.var(1).toFloatArray(), x.var(1).toFloatArray(), "var at an offset");
    assertArrayEquals(plain.std(0, false, true).toFloatArray(), x.std(0, false, true).toFloatArray(), "std at an offset");
    assertArrayEquals(plain.var().toFloatArray(), x.var().toFloatArray(), "var of all values at an offset");
    assertArrayEquals(new float[] {2, 5}, x.unsqueeze(0).squeeze().select(1, 2).toFloatArray());
  }

  @Test
  void narrowSelectSliceRefuseBadArguments() {
    Tensor x = Tensor.zeros(3, 4);
    assertMessage("narrow: start 5 is out of range for dimension 1 of size 4 in shape [3, 4] (expected -4..4)",
        () -> x.narrow(1, 5, 0));
    assertMessage("narrow: start -5 is out of range for dimension -1 of size 4 in shape [3, 4] (expected -4..4)",
        () -> x.narrow(-1, -5, 1));
    assertMessage("narrow: start (2) + length (3) exceeds dimension size (4) of dimension 1 in shape [3, 4]",
        () -> x.narrow(1, 2, 3));
    assertMessage("narrow: start (2) + length (3) exceeds dimension size (4) of dimension 1 in shape [3, 4]",
        () -> x.narrow(1, -2, 3));
    assertMessage("narrow: length must be non-negative, got -1 for dimension 1 of shape [3, 4]", () -> x.narrow(1, 1, -1));
    assertMessage("narrow of shape [3, 4]: dimension 2 is out of range for a tensor of rank 2 (expected -2..1)",
        () -> x.narrow(2, 0, 1));
    assertMessage("narrow: cannot be applied to a 0-dim tensor (shape [])", () -> Tensor.scalar(1).narrow(0, 0, 1));
    assertMessage("narrow: start (1) + length (2147483647) exceeds dimension size (4) of dimension 1 in shape [3, 4]",
        () -> x.narrow(1, 1, Integer.MAX_VALUE));

    assertMessage("select: index 4 out of range for tensor of size [3, 4] at dimension 1 (expected -4..3)", () -> x.select(1, 4));
    assertMessage("select: index -5 out of range for tensor of size [3, 4] at dimension 1 (expected -4..3)", () -> x.select(1, -5));
    assertMessage("select of shape [3, 4]: dimension -3 is out of range for a tensor of rank 2 (expected -2..1)",
        () -> x.select(-3, 0));
    assertMessage("select: cannot be applied to a 0-dim tensor (shape [])", () -> Tensor.scalar(1).select(0, 0));
    assertMessage("select: index 0 out of range for tensor of size [3, 0] at dimension 1 (expected 0..-1)",
        () -> Tensor.zeros(3, 0).select(1, 0));

    assertMessage("slice of shape [3, 4]: dimension 2 is out of range for a tensor of rank 2 (expected -2..1)",
        () -> x.slice(2, 0, 1));
    assertMessage("slice: cannot be applied to a 0-dim tensor (shape [])", () -> Tensor.scalar(1).slice(0, 0, 1));

  }

  // ------------------------------------------------------------------ unsqueeze and squeeze

  @Test
  void unsqueezeAndSqueezeReshapeAsPyTorch() {
    Tensor x = Tensor.of(ramp(6, 0), 2, 3).requiresGrad(true);
    assertShape(new int[] {1, 2, 3}, x.unsqueeze(0), "unsqueeze(0)");
    assertShape(new int[] {2, 1, 3}, x.unsqueeze(1), "unsqueeze(1)");
    assertShape(new int[] {2, 3, 1}, x.unsqueeze(2), "unsqueeze(2)");
    assertShape(new int[] {2, 3, 1}, x.unsqueeze(-1), "unsqueeze(-1)"); // torch: x.unsqueeze(-1).shape == [2, 3, 1]
    assertShape(new int[] {1, 2, 3}, x.unsqueeze(-3), "unsqueeze(-3)");
    assertShape(new int[] {1}, Tensor.scalar(2).unsqueeze(0), "unsqueeze of rank 0");
    assertShape(new int[] {1}, Tensor.scalar(2).unsqueeze(-1), "unsqueeze(-1) of rank 0");
    assertArrayEquals(x.toFloatArray(), x.unsqueeze(1).toFloatArray());

    Tensor ones = Tensor.zeros(1, 2, 1, 3, 1);
    assertShape(new int[] {2, 3}, ones.squeeze(), "squeeze()");
    assertShape(new int[] {2, 1, 3, 1}, ones.squeeze(0), "squeeze(0)");
    assertShape(new int[] {1, 2, 1, 3}, ones.squeeze(-1), "squeeze(-1)");
    assertShape(new int[] {1, 2, 1, 3, 1}, ones.squeeze(1), "squeeze of a dimension of size 2 keeps the shape");
    assertShape(new int[0], Tensor.zeros(1, 1).squeeze(), "squeeze() of [1, 1]");
    assertShape(new int[0], Tensor.scalar(3).squeeze(0), "squeeze(0) of rank 0");
    assertShape(new int[0], Tensor.scalar(3).squeeze(-1), "squeeze(-1) of rank 0");
    assertShape(new int[] {0}, Tensor.zeros(0, 1).squeeze(), "squeeze() keeps a size 0");
    assertMessage("sum of shape []: dimension 0 is out of range: a tensor of rank 0 (one value) has no dimensions;"
        + " reshape(1) gives it one", () -> Tensor.scalar(3).sum(0));

    // The gradient goes back through the reshape to x's shape.
    Tensor y = x.unsqueeze(0).unsqueeze(3).squeeze(0);
    assertShape(new int[] {2, 3, 1}, y, "unsqueeze, unsqueeze, squeeze");
    assertEquals("reshape", y.gradFn().name());
    assertArrayEquals(ramp(6, 1), gradient(x, y));
    assertArrayEquals(ramp(6, 1), gradient(x, x.unsqueeze(1).squeeze()));
  }

  @Test
  void unsqueezeAndSqueezeRefuseDimensionsOutOfRange() {
    Tensor x = Tensor.zeros(3, 4);
    assertMessage("unsqueeze of shape [3, 4]: dimension 3 is out of range for the result's rank 3 (expected -3..2)",
        () -> x.unsqueeze(3));
    assertMessage("unsqueeze of shape [3, 4]: dimension -4 is out of range for the result's rank 3 (expected -3..2)",
        () -> x.unsqueeze(-4));
    assertMessage("squeeze of shape [3, 4]: dimension 2 is out of range for a tensor of rank 2 (expected -2..1)",
        () -> x.squeeze(2));
    assertMessage("squeeze of shape []: dimension 1 is out of range (expected -1..0)", () -> Tensor.scalar(1).squeeze(1));
  }

  // ------------------------------------------------------------------ cat and stack

  @Test
  void catJoinsAlongAnyDimension() {
    Tensor a = Tensor.of(new float[] {1, 2, 3, 4, 5, 6}, 2, 3);
    Tensor b = Tensor.of(new float[] {7, 8, 9, 10}, 2, 2);
    Tensor c = Tensor.of(new float[] {11, 12, 13}, 1, 3);
    // torch.cat([a, b], 1) and torch.cat([a, c], 0)
    Tensor ab = Tensor.cat(List.of(a, b), 1);
    assertShape(new int[] {2, 5}, ab, "cat dim 1");
    assertArrayEquals(new float[] {1, 2, 3, 7, 8, 4, 5, 6, 9, 10}, ab.toFloatArray());
    assertArrayEquals(ab.toFloatArray(), Tensor.cat(List.of(a, b), -1).toFloatArray(), "cat dim -1");
    Tensor ac = Tensor.cat(List.of(a, c), 0);
    assertShape(new int[] {3, 3}, ac, "cat dim 0");
    assertArrayEquals(new float[] {1, 2, 3, 4, 5, 6, 11, 12, 13}, ac.toFloatArray());
    assertArrayEquals(a.toFloatArray(), Tensor.cat(List.of(a), 1).toFloatArray(), "cat of one tensor");
    assertNotSame(a, Tensor.cat(List.of(a), 1));
    assertShape(new int[] {2, 3}, Tensor.cat(List.of(Tensor.zeros(2, 0), a, Tensor.zeros(2, 0)), 1), "cat with empty parts");
    // Labels: y[1], y[:, 1:], y.narrow(1, 0, 2) on int tensors keep their type
    Tensor labels = Tensor.labels(3, 1, 4, 1, 5, 9).reshape(2, 3);
    assertEquals(DType.INT32, labels.select(0, 1).dtype());
    assertArrayEquals(new float[] {1, 5, 9}, labels.select(0, 1).toFloatArray());
    assertArrayEquals(new float[] {1, 4, 5, 9}, labels.slice(1, 1, Integer.MAX_VALUE).toFloatArray());
    assertArrayEquals(new float[] {3, 1, 1, 5}, labels.narrow(1, 0, 2).toFloatArray());
    assertEquals(DType.INT32, labels.narrow(1, 0, 2).dtype());

    // torch.cat([torch.zeros(0), a], 1): a [0] tensor joins any shape as nothing (the accumulator idiom),
    // and takes a gradient of its own shape.
    Tensor start = Tensor.zeros(0).requiresGrad(true);
    Tensor skipped = Tensor.cat(List.of(start, a, Tensor.zeros(0)), 1);
    assertShape(new int[] {2, 3}, skipped, "cat with [0] parts");
    assertArrayEquals(a.toFloatArray(), skipped.toFloatArray(), "cat with [0] parts");
    skipped.sum().backward();
    assertShape(new int[] {0}, start.grad(), "gradient of a [0] part");
    assertShape(new int[] {0}, Tensor.cat(List.of(Tensor.zeros(0), Tensor.zeros(0)), 0), "cat of [0] parts only");
    assertMessage("cat: tensors must have the same number of dimensions: got 2 and 1 (tensor 0 of shape [2, 3], tensor 1"
        + " of shape [1])", () -> Tensor.cat(List.of(a, Tensor.zeros(1)), 0));
    assertMessage("cat: tensors must have the same number of dimensions: got 2 and 1 (tensor 1 of shape [2, 3], tensor 2"
        + " of shape [2])", () -> Tensor.cat(List.of(Tensor.zeros(0), a, Tensor.zeros(2)), 0));

    // A middle dimension: [2, 1, 2] and [2, 2, 2] along 1.
    Tensor p = Tensor.of(new float[] {1, 2, 3, 4}, 2, 1, 2);
    Tensor q = Tensor.of(new float[] {5, 6, 7, 8, 9, 10, 11, 12}, 2, 2, 2);
    assertArrayEquals(new float[] {1, 2, 5, 6, 7, 8, 3, 4, 9, 10, 11, 12}, Tensor.cat(List.of(p, q), 1).toFloatArray());
  }

  @Test
  void catSplitsTheGradientBackToEachInput() {
    Tensor a = Tensor.of(ramp(6, 0), 2, 3).requiresGrad(true);
    Tensor b = Tensor.of(ramp(4, 0), 2, 2).requiresGrad(true);
    Tensor y = Tensor.cat(List.of(a, b), 1);
    assertEquals("cat", y.gradFn().name());
    y.backward(Tensor.of(ramp(10, 1), 2, 5)); // rows [1 2 3 | 4 5] and [6 7 8 | 9 10]
    assertArrayEquals(new float[] {1, 2, 3, 6, 7, 8}, a.grad().toFloatArray());
    assertArrayEquals(new float[] {4, 5, 9, 10}, b.grad().toFloatArray());

    // Only the second input requires grad: the first gets none, the second its part.
    Tensor frozen = Tensor.of(ramp(6, 0), 2, 3);
    Tensor w = Tensor.of(ramp(3, 0), 1, 3).requiresGrad(true);
    Tensor z = Tensor.cat(List.of(frozen, w), 0);
    assertTrue(z.requiresGrad());
    z.backward(Tensor.of(ramp(9, 1), 3, 3));
    assertNull(frozen.grad(), "an input that does not require grad gets no gradient");
    assertArrayEquals(new float[] {7, 8, 9}, w.grad().toFloatArray());

    // The same tensor twice: both parts are added.
    Tensor v = Tensor.of(new float[] {1, 2}).requiresGrad(true);
    Tensor.cat(List.of(v, v), 0).backward(Tensor.of(new float[] {1, 2, 30, 40}));
    assertArrayEquals(new float[] {31, 42}, v.grad().toFloatArray());

    // Nothing requires grad: a plain tensor.
    assertNull(Tensor.cat(List.of(frozen, frozen), 0).gradFn());
    try (var g = Kiln.noGrad()) {
      assertNull(Tensor.cat(List.of(a, b), 1).gradFn(), "no node under noGrad");
    }
  }

  @Test
  void catRefusesWhatTorchRefuses() {
    Tensor x = Tensor.zeros(3, 4);
    assertMessage("cat: expected a non-empty list of tensors", () -> Tensor.cat(List.of(), 0));
    assertMessage("cat: sizes of tensors must match except in dimension 0. Expected size 4 but got size 5 for tensor number 1"
        + " in the list: shapes [3, 4] and [3, 5] differ in dimension 1", () -> Tensor.cat(List.of(x, Tensor.zeros(3, 5)), 0));
    assertMessage("cat: sizes of tensors must match except in dimension 1. Expected size 3 but got size 2 for tensor number 2"
        + " in the list: shapes [3, 4] and [2, 4] differ in dimension 0",
        () -> Tensor.cat(List.of(x, Tensor.zeros(3, 1), Tensor.zeros(2, 4)), -1));
    assertMessage("cat: tensors must have the same number of dimensions: got 2 and 3 (tensor 0 of shape [3, 4], tensor 1 of"
        + " shape [3, 4, 1])", () -> Tensor.cat(List.of(x, Tensor.zeros(3, 4, 1)), 0));
    assertMessage("cat of shape [3, 4]: dimension 2 is out of range for a tensor of rank 2 (expected -2..1)",
        () -> Tensor.cat(List.of(x, x), 2));
    assertMessage("cat: zero-dimensional tensor (at position 1) cannot be concatenated",
        () -> Tensor.cat(List.of(Tensor.zeros(1), Tensor.scalar(2)), 0));
    assertEquals(DType.FLOAT32, Tensor.cat(List.of(Tensor.zeros(3), Tensor.labels(1, 2, 3)), 0).dtype()); // promoted, as PyTorch
    assertMessage("cat: tensor 1 in the list is null", () -> Tensor.cat(java.util.Arrays.asList(x, null), 0));
  }

  @Test
  void stackJoinsAlongANewDimension() {
    Tensor a = Tensor.of(new float[] {1, 2, 3, 4, 5, 6}, 2, 3).requiresGrad(true);
    Tensor b = Tensor.of(new float[] {10, 20, 30, 40, 50, 60}, 2, 3).requiresGrad(true);
    // torch.stack([a, a * 10], -1) and torch.stack([a, a * 10], 1)
    Tensor s = Tensor.stack(List.of(a, b), -1);
    assertShape(new int[] {2, 3, 2}, s, "stack -1");
    assertArrayEquals(new float[] {1, 10, 2, 20, 3, 30, 4, 40, 5, 50, 6, 60}, s.toFloatArray());
    s = Tensor.stack(List.of(a, b), 1);
    assertShape(new int[] {2, 2, 3}, s, "stack 1");
    assertArrayEquals(new float[] {1, 2, 3, 10, 20, 30, 4, 5, 6, 40, 50, 60}, s.toFloatArray());
    assertShape(new int[] {2, 2, 3}, Tensor.stack(List.of(a, b), 0), "stack 0");
    assertShape(new int[] {2, 2, 3}, Tensor.stack(List.of(a, b), -3), "stack -3");
    assertShape(new int[] {2}, Tensor.stack(List.of(Tensor.scalar(1), Tensor.scalar(2)), 0), "stack of scalars");
    assertArrayEquals(new float[] {1, 2}, Tensor.stack(List.of(Tensor.scalar(1), Tensor.scalar(2)), 0).toFloatArray());

    s.backward(Tensor.of(ramp(12, 1), 2, 2, 3)); // s = stack(.., 1): a's rows get 1 2 3 and 7 8 9
    assertArrayEquals(new float[] {1, 2, 3, 7, 8, 9}, a.grad().toFloatArray());
    assertArrayEquals(new float[] {4, 5, 6, 10, 11, 12}, b.grad().toFloatArray());
  }

  @Test
  void stackRefusesWhatTorchRefuses() {
    Tensor x = Tensor.zeros(3, 4);
    assertMessage("stack: expected a non-empty list of tensors", () -> Tensor.stack(List.of(), 0));
    assertMessage("stack: expects each tensor to be equal size, but got [3, 4] at entry 0 and [3, 5] at entry 1",
        () -> Tensor.stack(List.of(x, Tensor.zeros(3, 5)), 0));
    assertMessage("stack: expects each tensor to be equal size, but got [3, 4] at entry 0 and [4, 3] at entry 2",
        () -> Tensor.stack(List.of(x, x, Tensor.zeros(4, 3)), 0));
    assertMessage("stack of shape [3, 4]: dimension 3 is out of range for the result's rank 3 (expected -3..2)",
        () -> Tensor.stack(List.of(x, x), 3));
    assertEquals(DType.INT32, Tensor.stack(List.of(Tensor.labels(1, 2, 3)), 0).dtype()); // ids of ids
  }

  // ------------------------------------------------------------------ var and std

  /** The scripts' input: torch.tensor([...]).reshape(2, 3, 4). */
  private static Tensor v234() {
    return Tensor.of(new float[] {0.5f, -1.25f, 3.0f, 2.0f, -0.75f, 4.5f, 1.0f, -2.0f, 0.25f, 3.5f, -1.5f, 2.75f,
        1.5f, 0.0f, -3.25f, 2.25f, 5.0f, -0.5f, 1.75f, -2.5f, 0.75f, 3.25f, -1.0f, 2.5f}, 2, 3, 4).requiresGrad(true);
  }

  @Test
  void varAndStdAlongADimensionAreTorchs() {
    // torch: y = v.var(d) (or std, ...); y.backward(torch.arange(1., y.numel() + 1).reshape(y.shape)); values and v.grad
    Tensor v = v234();
    Tensor y = v.var(0);
    assertShape(new int[] {3, 4}, y, "var(0)");
    assertClose(new float[] {0.5f, 0.78125f, 19.53125f, 0.03125f, 16.53125f, 12.5f, 0.28125f, 0.125f, 0.125f, 0.03125f,
        0.125f, 0.03125f}, y, "var(0)");
    assertClose(new float[] {-1.0f, -2.5f, 18.75f, -1.0f, -28.75f, 30.0f, -5.25f, 4.0f, -4.5f, 2.5f, -5.5f, 3.0f, 1.0f, 2.5f,
        -18.75f, 1.0f, 28.75f, -30.0f, 5.25f, -4.0f, 4.5f, -2.5f, 5.5f, -3.0f}, Tensor.of(gradient(v, y), 24), "var(0) grad");

    y = v.std(1);
    assertShape(new int[] {2, 4}, y, "std(1)");
    assertClose(new float[] {0.6614378094673157f, 3.072051525115967f, 2.254624843597412f, 2.5535922050476074f,
        2.2684428691864014f, 2.0361318588256836f, 2.5041632652282715f, 2.817356824874878f}, y, "std(1)");
    assertClose(new float[] {0.37796449661254883f, -1.1393038034439087f, 1.441481590270996f, 0.848477840423584f,
        -0.5669467449188232f, 0.7324095368385315f, 0.1108832061290741f, -2.2843637466430664f, 0.18898224830627441f,
        0.4068942070007324f, -1.552364706993103f, 1.4358856678009033f, -1.0102379322052002f, -1.350600242614746f,
        -3.3777084350585938f, 2.1296558380126953f, 2.847033739089966f, -2.0872912406921387f, 3.6106536388397217f,
        -4.614253997802734f, -1.8367960453033447f, 3.4378912448883057f, -0.23294542729854584f, 2.484598398208618f},
        Tensor.of(gradient(v, y), 24), "std(1) grad");
    assertEquals("std", y.gradFn().name());

    y = v.var(-1);
    assertClose(new float[] {3.4322917461395264f, 7.973958492279053f, 5.291666507720947f, 5.9375f, 10.348958015441895f,
        3.6041667461395264f}, y, "var(-1)");
    assertClose(new float[] {-0.375f, -1.5416667461395264f, 1.2916667461395264f, 0.625f, -1.9166667461395264f,
        5.083333492279053f, 0.4166666865348816f, -3.5833334922790527f, -2.0f, 4.5f, -5.5f, 3.0f, 3.6666667461395264f,
        -0.3333333432674408f, -9.0f, 5.6666669845581055f, 13.541666984558105f, -4.7916669845581055f, 2.7083334922790527f,
        -11.458333969116211f, -2.5f, 7.5f, -9.5f, 4.5f}, Tensor.of(gradient(v, y), 24), "var(-1) grad");
    assertArrayEquals(y.toFloatArray(), v.var(2).toFloatArray(), "var(2) is var(-1)");

    // torch: v.var(1, unbiased=False, keepdim=True)
    y = v.var(1, false, true);
    assertShape(new int[] {2, 1, 4}, y, "var(1, biased, keepdim)");
    assertClose(new float[] {0.2916666567325592f, 6.291666507720947f, 3.3888888359069824f, 4.347222328186035f,
        3.430555582046509f, 2.7638888359069824f, 4.18055534362793f, 5.291666507720947f}, y, "var(1, biased, keepdim)");
    assertClose(new float[] {0.3333333432674408f, -4.6666669845581055f, 4.333333492279053f, 2.8888888359069824f, -0.5f, 3.0f,
        0.3333333730697632f, -7.777778148651123f, 0.1666666716337204f, 1.6666667461395264f, -4.666666507720947f,
        4.888888835906982f, -3.055556058883667f, -3.6666667461395264f, -11.277778625488281f, 8.0f, 8.611111640930176f,
        -5.6666669845581055f, 12.055556297302246f, -17.33333396911621f, -5.555556297302246f, 9.333333015441895f,
        -0.777777910232544f, 9.333333969116211f}, Tensor.of(gradient(v, y), 24), "var(1, biased, keepdim) grad");

    // torch: v.std(-1, unbiased=False, keepdim=True)
    y = v.std(-1, false, true);
    assertShape(new int[] {2, 3, 1}, y, "std(-1, biased, keepdim)");
    assertClose(new float[] {1.604437232017517f, 2.4454996585845947f, 1.992172122001648f, 2.1102428436279297f,
        2.7859861850738525f, 1.644118309020996f}, y, "std(-1, biased, keepdim)");
    assertClose(new float[] {-0.08764755725860596f, -0.3603288531303406f, 0.3018971383571625f, 0.14607925713062286f,
        -0.2939072251319885f, 0.7794930338859558f, 0.06389287114143372f, -0.5494787096977234f, -0.37647348642349243f,
        0.8470653295516968f, -1.0353020429611206f, 0.564710259437561f, 0.6515837907791138f, -0.05923488736152649f,
        -1.5993419885635376f, 1.006993055343628f, 1.8227386474609375f, -0.64496910572052f, 0.3645477294921875f,
        -1.5423173904418945f, -0.5702144503593445f, 1.7106432914733887f, -2.1668148040771484f, 1.026386022567749f},
        Tensor.of(gradient(v, y), 24), "std(-1, biased, keepdim) grad");
  }

  @Test
  void varAndStdOfAllValuesAreTorchs() {
    // torch: v.var(), v.std(), v.var(unbiased=False), v.std(unbiased=False), each backward from 1
    Tensor v = v234();
    Tensor y = v.var();
    assertShape(new int[0], y, "var()");
    assertClose(new float[] {4.95006799697876f}, y, "var()");
    assertClose(new float[] {-0.03532608598470688f, -0.1875f, 0.1820652186870575f, 0.09510869532823563f,
        -0.14402173459529877f, 0.3125f, 0.008152173832058907f, -0.25271740555763245f, -0.057065218687057495f,
        0.22554348409175873f, -0.2092391401529312f, 0.16032609343528748f, 0.05163043737411499f, -0.07880435138940811f,
        -0.36141306161880493f, 0.11684782803058624f, 0.3559782803058624f, -0.12228260934352875f, 0.0733695700764656f,
        -0.2961956560611725f, -0.01358695700764656f, 0.2038043588399887f, -0.16576087474822998f, 0.13858695328235626f},
        Tensor.of(gradient(v, y), 24), "var() grad");
    y = v.std();
    assertClose(new float[] {2.22487473487854f}, y, "std()");
    assertClose(new float[] {-0.00793889444321394f, -0.042137205600738525f, 0.0409158393740654f, 0.021373946219682693f,
        -0.03236626088619232f, 0.0702286809682846f, 0.0018320524832233787f, -0.05679362639784813f, -0.012824367731809616f,
        0.0506867840886116f, -0.047022681683301926f, 0.0360303670167923f, 0.011602998711168766f, -0.017709840089082718f,
        -0.08122099190950394f, 0.026259418576955795f, 0.07999962568283081f, -0.02748078666627407f, 0.016488471999764442f,
        -0.06656457483768463f, -0.003053420688956976f, 0.0458013117313385f, -0.037251733243465424f, 0.031144892796874046f},
        Tensor.of(gradient(v, y), 24), "std() grad");
    assertClose(new float[] {4.743814945220947f}, v.var(false), "var(unbiased=False)");
    y = v.std(false);
    assertClose(new float[] {2.178030014038086f}, y, "std(unbiased=False)");
    assertClose(new float[] {-0.007771740667521954f, -0.04125000908970833f, 0.040054354816675186f, 0.0209239162504673f,
        -0.031684789806604385f, 0.06875001639127731f, 0.0017934786155819893f, -0.05559783801436424f, -0.012554350309073925f,
        0.04961957409977913f, -0.0460326187312603f, 0.035271745175123215f, 0.011358697898685932f, -0.01733696088194847f,
        -0.0795108824968338f, 0.025706525892019272f, 0.07831523567438126f, -0.026902180165052414f, 0.01614130660891533f,
        -0.06516305357217789f, -0.002989131025969982f, 0.04483696445822716f, -0.03646739944815636f, 0.030489135533571243f},
        Tensor.of(gradient(v, y), 24), "std(unbiased=False) grad");
  }

  @Test
  void oneValueGivesNaNAndAConstantInputHasAZeroStdGradientAsInTorch() {
    // torch 1.13: torch.tensor([3.]).var() and .std() are nan (0 / 0), and 0 when biased.
    assertTrue(Float.isNaN(Tensor.of(new float[] {3}).var().item()));
    assertTrue(Float.isNaN(Tensor.of(new float[] {3}).std().item()));
    assertTrue(Float.isNaN(Tensor.scalar(2).var().item()), "var of a rank-0 tensor");
    assertEquals(0f, Tensor.of(new float[] {3}).var(false).item());

    // torch: a = torch.tensor([[3.], [1.]], requires_grad=True); a.var(1) is [nan, nan], a.grad after .sum().backward() nan;
    // with unbiased=False both are 0.
    Tensor a = Tensor.of(new float[] {3, 1}, 2, 1).requiresGrad(true);
    Tensor y = a.var(1);
    assertClose(new float[] {Float.NaN, Float.NaN}, y, "var of one value");
    y.sum().backward();
    assertClose(new float[] {Float.NaN, Float.NaN}, a.grad(), "var of one value: gradient");
    a.setGrad(null);
    a.std(1).sum().backward();
    assertClose(new float[] {Float.NaN, Float.NaN}, a.grad(), "std of one value: gradient");
    a.setGrad(null);
    y = a.var(1, false, false);
    assertArrayEquals(new float[] {0, 0}, y.toFloatArray());
    y.sum().backward();
    assertArrayEquals(new float[] {0, 0}, a.grad().toFloatArray());
    a.setGrad(null);
    a.std(1, false, false).sum().backward();
    assertArrayEquals(new float[] {0, 0}, a.grad().toFloatArray(), "std of one value, biased: torch masks the zero");

    // torch: a = torch.tensor([[3., 3.], [1., 2.]], requires_grad=True); a.std(1).sum().backward()
    // gives [[0, 0], [-0.7071, 0.7071]]: the constant row's gradient is 0, not 0 * inf.
    Tensor c = Tensor.of(new float[] {3, 3, 1, 2}, 2, 2).requiresGrad(true);
    Tensor s = c.std(1);
    assertArrayEquals(new float[] {0f, (float) Math.sqrt(0.5)}, s.toFloatArray());
    s.sum().backward();
    assertClose(new float[] {0f, 0f, -0.7071067690849304f, 0.7071067690849304f}, c.grad(), "std of a constant row");
    Tensor k = Tensor.of(new float[] {3, 3}).requiresGrad(true);
    k.std().backward();
    assertArrayEquals(new float[] {0, 0}, k.grad().toFloatArray(), "std() of a constant: torch gives 0");
  }

  @Test
  void varAndStdRefuseBadArguments() {
    Tensor x = Tensor.zeros(2, 3);
    assertMessage("var of shape [2, 3]: dimension 2 is out of range for a tensor of rank 2 (expected -2..1)", () -> x.var(2));
    assertMessage("std of shape [2, 3]: dimension -3 is out of range for a tensor of rank 2 (expected -2..1)", () -> x.std(-3));
    assertMessage("var along dimension 1 of size 0, shape [2, 0]", () -> Tensor.zeros(2, 0).var(1));
    assertMessage("std along dimension 1 of size 0, shape [2, 0]", () -> Tensor.zeros(2, 0).std(1));
    assertMessage("var of an empty tensor of shape [0]", () -> Tensor.zeros(0).var());
    assertMessage("std of an empty tensor of shape [2, 0]", () -> Tensor.zeros(2, 0).std());
    assertMessage("var: expected a float tensor, got INT32 of shape [3]", () -> Tensor.labels(1, 2, 3).var());
    assertMessageStarts("var of shape []: dimension 0 is out of range", () -> Tensor.scalar(1).var(0));
  }

  // ------------------------------------------------------------------ finite differences, and the graph

  @Test
  void gradientsAgreeWithFiniteDifferences() {
    GradCheck.check("narrow", in -> Ops.narrow(in[0], 1, 1, 2), EPS, ATOL, RTOL, Tensor.randn(2, 4, 3).requiresGrad(true));
    GradCheck.check("narrow dim 0", in -> Ops.narrow(in[0], 0, -2, 2), EPS, ATOL, RTOL, Tensor.randn(3, 5).requiresGrad(true));
    GradCheck.check("slice", in -> Ops.slice(in[0], -1, 1, 100), EPS, ATOL, RTOL, Tensor.randn(2, 3, 4).requiresGrad(true));
    GradCheck.check("select", in -> Ops.select(in[0], 1, -1), EPS, ATOL, RTOL, Tensor.randn(2, 3, 4).requiresGrad(true));
    GradCheck.check("unsqueeze squeeze", in -> Ops.squeeze(Ops.unsqueeze(in[0], 1), 2), EPS, ATOL, RTOL,
        Tensor.randn(3, 1, 2).requiresGrad(true));
    GradCheck.check("cat", in -> Ops.cat(List.of(in[0], in[1], in[2]), 1), EPS, ATOL, RTOL,
        Tensor.randn(2, 1, 3).requiresGrad(true), Tensor.randn(2, 2, 3), Tensor.randn(2, 3, 3).requiresGrad(true));
    GradCheck.check("stack", in -> Ops.stack(List.of(in[0], in[1]), -1), EPS, ATOL, RTOL,
        Tensor.randn(2, 3).requiresGrad(true), Tensor.randn(2, 3).requiresGrad(true));
    GradCheck.check("var dim 1", in -> Ops.var(in[0], 1, true, false), EPS, ATOL, RTOL, Tensor.randn(2, 4, 3).requiresGrad(true));
    GradCheck.check("var dim 0 biased keepdim", in -> Ops.var(in[0], 0, false, true), EPS, ATOL, RTOL,
        Tensor.randn(4, 3).requiresGrad(true));
    GradCheck.check("std dim -1", in -> Ops.std(in[0], -1, true, true), EPS, ATOL, RTOL, Tensor.randn(3, 2, 5).requiresGrad(true));
    GradCheck.check("var", in -> Ops.var(in[0], true), EPS, ATOL, RTOL, Tensor.randn(3, 4).requiresGrad(true));
    GradCheck.check("std biased", in -> Ops.std(in[0], false), EPS, ATOL, RTOL, Tensor.randn(3, 4).requiresGrad(true));
  }

  @Test
  void slicesAndCatCanBeSharedByTwoLosses() {
    // Their backward needs only the incoming gradient (savesTensors false), as PyTorch lets a second loss go through them.
    Tensor x = Tensor.of(ramp(6, 0), 2, 3).requiresGrad(true);
    Tensor part = Tensor.cat(List.of(x.narrow(1, 0, 2), x.select(1, 2).unsqueeze(1)), 1);
    part.sum().backward();
    part.mul(2f).sum().backward();
    assertArrayEquals(new float[] {3, 3, 3, 3, 3, 3}, x.grad().toFloatArray());
  }
}
