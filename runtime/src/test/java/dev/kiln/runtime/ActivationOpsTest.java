package dev.kiln.runtime;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.BeforeEach;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Activations, dropout and the regression losses: gradients against finite differences, values by hand. */
class ActivationOpsTest {
  private static final double EPS = 1e-2;
  private static final double ATOL = 2e-3;
  private static final double RTOL = 2e-3;

  @BeforeEach
  void seed() {
    Kiln.manualSeed(42);
  }

  private static Tensor param(int... shape) {
    return Tensor.randn(shape).requiresGrad(true);
  }

  @Test
  void sigmoidAndTanhGradients() {
    GradCheck.check("sigmoid", in -> Ops.sigmoid(in[0]), EPS, ATOL, RTOL, param(3, 4));
    GradCheck.check("tanh", in -> Ops.tanh(in[0]), EPS, ATOL, RTOL, param(3, 4));
  }

  @Test
  void sigmoidAndTanhValuesStayFiniteForLargeInputs() {
    Tensor x = Tensor.of(new float[] {-1000f, -1f, 0f, 1f, 1000f});
    assertArrayEquals(new float[] {0f, 0.26894142f, 0.5f, 0.73105858f, 1f}, Ops.sigmoid(x).toFloatArray(), 1e-7f);
    assertArrayEquals(new float[] {-1f, -0.76159416f, 0f, 0.76159416f, 1f}, Ops.tanh(x).toFloatArray(), 1e-7f);
  }

  @Test
  void leakyReluGradientAndValues() {
    GradCheck.check("leaky_relu", in -> Ops.leakyRelu(in[0], 0.01), EPS, ATOL, RTOL,
        GradCheck.awayFromZero(0.05f, 4, 5).requiresGrad(true));
    GradCheck.check("leaky_relu negative slope", in -> Ops.leakyRelu(in[0], -0.3), EPS, ATOL, RTOL,
        GradCheck.awayFromZero(0.05f, 6).requiresGrad(true));
    assertArrayEquals(new float[] {-0.02f, 0f, 3f}, Ops.leakyRelu(Tensor.of(new float[] {-2f, 0f, 3f}), 0.01).toFloatArray(), 1e-7f);
  }

  @Test
  void softmaxAndLogSoftmaxGradientsAlongSeveralDimensions() {
    for (int dim : new int[] {0, 1, 2, -1}) {
      GradCheck.check("softmax dim " + dim, in -> Ops.softmax(in[0], dim), EPS, ATOL, RTOL, param(3, 4, 2));
      GradCheck.check("log_softmax dim " + dim, in -> Ops.logSoftmax(in[0], dim), EPS, ATOL, RTOL, param(3, 4, 2));
    }
    GradCheck.check("softmax rank 1", in -> Ops.softmax(in[0], 0), EPS, ATOL, RTOL, param(5));
  }

  @Test
  void softmaxValuesAlongADimension() {
    // [2, 3] along dim 0: columns (1, 1), (0, ln 3), (5, 5).
    Tensor x = Tensor.of(new float[] {1f, 0f, 5f, 1f, (float) Math.log(3), 5f}, 2, 3);
    assertArrayEquals(new float[] {0.5f, 0.25f, 0.5f, 0.5f, 0.75f, 0.5f}, Ops.softmax(x, 0).toFloatArray(), 1e-6f);
    float[] rows = Ops.softmax(x, 1).toFloatArray();
    assertEquals(1f, rows[0] + rows[1] + rows[2], 1e-6f);
    assertEquals(1f, rows[3] + rows[4] + rows[5], 1e-6f);
  }

  @Test
  void logSoftmaxIsTheLogOfSoftmaxAndStableForLargeLogits() {
    Tensor x = Tensor.randn(4, 5);
    float[] soft = Ops.softmax(x, 1).toFloatArray();
    float[] log = Ops.logSoftmax(x, 1).toFloatArray();
    for (int i = 0; i < soft.length; i++) {
      assertEquals(Math.log(soft[i]), log[i], 1e-5);
    }
    Tensor big = Tensor.of(new float[] {1000f, 0f}, 1, 2);
    assertArrayEquals(new float[] {0f, -1000f}, Ops.logSoftmax(big, -1).toFloatArray(), 1e-3f);
    assertArrayEquals(new float[] {1f, 0f}, Ops.softmax(big, -1).toFloatArray(), 1e-7f);
  }

  @Test
  void softmaxDimensionOutOfRangeNamesTheShape() {
    var e = assertThrows(IllegalArgumentException.class, () -> Ops.softmax(Tensor.zeros(2, 3), 2));
    assertTrue(e.getMessage().contains("softmax of shape [2, 3]") && e.getMessage().contains("dimension 2"), e.getMessage());
    e = assertThrows(IllegalArgumentException.class, () -> Ops.logSoftmax(Tensor.zeros(2, 3), -3));
    assertTrue(e.getMessage().contains("log_softmax of shape [2, 3]"), e.getMessage());
  }

  @Test
  void dropoutGradientWithTheSameMaskEachEvaluation() {
    GradCheck.check("dropout", in -> {
      Kiln.manualSeed(7); // every evaluation draws the same mask
      return Ops.dropout(in[0], 0.3, true);
    }, EPS, ATOL, RTOL, param(4, 6));
  }

  @Test
  void dropoutBackwardUsesTheSavedMask() {
    Tensor x = Tensor.ones(1000).requiresGrad(true);
    Tensor y = Ops.dropout(x, 0.25, true);
    Ops.sum(y).backward();
    float[] kept = y.toFloatArray();
    float[] grad = x.grad().toFloatArray();
    for (int i = 0; i < kept.length; i++) {
      assertTrue(kept[i] == 0f || kept[i] == 1f / 0.75f, "value " + kept[i]);
      assertEquals(kept[i], grad[i], "the gradient of x -> x * mask is the mask");
    }
  }

  /**
   * tanh within an ulp of the correctly rounded value, sigmoid within 1.5 ulp of the exact one (the
   * float kernels' bounds, {@code cpu.SmoothActivationsTest}: the double kernels before them were
   * correctly rounded but for an ulp, and 10x slower), and 0 or subnormal where the exact sigmoid is.
   */
  @Test
  void tanhAndSigmoidAreAccurateOverTheirWholeRange() {
    float[] special = {0f, -0f, 1e-38f, -1e-30f, 1e-12f, 3e-8f, -1e-5f, 0.01f, 0.0624f, 0.0625f, -0.0626f, 0.5f, 1f, -3f,
        9f, 10f, 20f, -88f, 100f, 400f, Float.MIN_VALUE, Float.MAX_VALUE, -Float.MAX_VALUE,
        Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY, Float.NaN};
    Kiln.manualSeed(9);
    float[] random = Tensor.randn(100_000).toFloatArray(); // split over the cores
    for (float[] x : List.of(special, random)) {
      float[] t = new float[x.length];
      float[] s = new float[x.length];
      dev.kiln.runtime.cpu.ActivationKernels.tanhForward(t, 0, x, 0, x.length);
      dev.kiln.runtime.cpu.ActivationKernels.sigmoidForward(s, 0, x, 0, x.length);
      for (int i = 0; i < x.length; i++) {
        float wantT = (float) Math.tanh(x[i]);
        double wantS = 1 / (1 + Math.exp(-(double) x[i]));
        assertTrue(Float.compare(wantT, t[i]) == 0 || Math.abs(wantT - t[i]) <= Math.ulp(wantT),
            "tanh(" + x[i] + ") = " + t[i] + ", want " + wantT);
        double tolerance = wantS < Float.MIN_NORMAL ? Float.MIN_NORMAL : 1.5 * Math.ulp((float) wantS);
        assertTrue(Float.isNaN(x[i]) ? Float.isNaN(s[i]) : Math.abs(wantS - s[i]) <= tolerance,
            "sigmoid(" + x[i] + ") = " + s[i] + ", want " + wantS);
      }
    }
  }

  @Test
  void leakyReluIsTheComparisonsValueForEveryInputWithoutBranching() {
    float[] special = {0f, -0f, 1e-45f, -1e-45f, 3f, -3f, Float.MAX_VALUE, -Float.MAX_VALUE,
        Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY, Float.NaN};
    Kiln.manualSeed(4);
    float[] random = Tensor.randn(70_001).toFloatArray();
    for (float slope : new float[] {0.01f, 0.2f, -0.5f, 0f}) {
      for (float[] x : List.of(special, random)) {
        float[] out = new float[x.length + 2]; // at an offset: the general loop
        float[] same = new float[x.length];
        dev.kiln.runtime.cpu.ActivationKernels.leakyReluForward(out, 2, x, 0, x.length, slope);
        dev.kiln.runtime.cpu.ActivationKernels.leakyReluForward(same, 0, x, 0, x.length, slope);
        float[] g = new float[x.length];
        java.util.Arrays.fill(g, 1.5f);
        float[] dx = new float[x.length];
        dev.kiln.runtime.cpu.ActivationKernels.leakyReluBackward(dx, 0, g, 0, x, 0, x.length, slope);
        float[] dxAt = new float[x.length + 3]; // at an offset: the general loop
        dev.kiln.runtime.cpu.ActivationKernels.leakyReluBackward(dxAt, 3, g, 0, x, 0, x.length, slope);
        assertArrayEquals(dx, java.util.Arrays.copyOfRange(dxAt, 3, x.length + 3));
        for (int i = 0; i < x.length; i++) {
          float want = x[i] > 0f ? x[i] : slope * x[i];
          assertEquals(Float.floatToIntBits(want), Float.floatToIntBits(out[2 + i]), "forward(" + x[i] + "), slope " + slope);
          assertEquals(Float.floatToIntBits(want), Float.floatToIntBits(same[i]), "forward(" + x[i] + "), slope " + slope);
          if (!Float.isNaN(x[i])) {
            float wantGrad = x[i] > 0f ? 1.5f : slope * 1.5f;
            assertEquals(Float.floatToIntBits(wantGrad), Float.floatToIntBits(dx[i]), "backward at " + x[i] + ", slope " + slope);
          }
        }
      }
    }
  }

  @Test
  void leakyReluRejectsASlopeThatIsNotAFiniteFloat() {
    var e = assertThrows(IllegalArgumentException.class, () -> Ops.leakyRelu(Tensor.ones(2), 1e39));
    assertTrue(e.getMessage().contains("finite float"), e.getMessage());
  }

  @Test
  void dropoutMaskTakesTheGeneratorsDrawsInOrderOnEveryCore() {
    int n = 100_003; // split over the cores
    Kiln.manualSeed(5);
    float[] mask = new float[n + 3];
    dev.kiln.runtime.cpu.ActivationKernels.dropoutMask(mask, 3, n, 0.4, Kiln.generator());
    long after = Kiln.generator().state();
    Kiln.manualSeed(5);
    float keep = (float) (1.0 / 0.6);
    for (int i = 0; i < n; i++) {
      assertEquals(Kiln.generator().nextDouble() < 0.4 ? 0f : keep, mask[3 + i], "entry " + i);
    }
    assertEquals(Kiln.generator().state(), after, "the generator moved on by one draw an entry");
    assertEquals(0f, mask[0]);
  }

  /**
   * Eager dropout draws and applies its mask in one pass (ActivationKernels.dropoutForward), keeping the mask only for
   * a backward: the same values with grad and without, x times dropoutMask's mask bit for bit, and a backward that
   * scales a gradient it owns in place by the same mask.
   */
  @Test
  void dropoutIsTheDrawnMaskTimesXWithGradAndWithout() {
    int n = 100_003; // split over the cores
    Tensor x = Tensor.randn(n).requiresGrad(true);
    Tensor w = Tensor.randn(n);
    Kiln.manualSeed(3);
    float[] mask = new float[n];
    dev.kiln.runtime.cpu.ActivationKernels.dropoutMask(mask, 0, n, 0.3, Kiln.generator());
    Kiln.manualSeed(3);
    Tensor y = Ops.dropout(x, 0.3, true);
    Ops.sum(Ops.mul(y, w)).backward(); // the gradient reaching dropout is a fresh array, w's values
    Tensor free;
    Kiln.manualSeed(3);
    try (var off = Kiln.noGrad()) {
      free = Ops.dropout(x, 0.3, true);
    }
    float[] xs = x.toFloatArray(), ws = w.toFloatArray(), ys = y.toFloatArray(), frees = free.toFloatArray();
    float[] grad = x.grad().toFloatArray();
    for (int i = 0; i < n; i++) {
      assertEquals(Float.floatToIntBits(xs[i] * mask[i]), Float.floatToIntBits(ys[i]), "value " + i);
      assertEquals(Float.floatToIntBits(ys[i]), Float.floatToIntBits(frees[i]), "value " + i + " under no grad");
      assertEquals(Float.floatToIntBits(ws[i] * mask[i]), Float.floatToIntBits(grad[i]), "gradient " + i);
    }
  }

  @Test
  void dropoutEdgeCasesAndBadProbabilities() {
    Tensor x = Tensor.randn(3, 4);
    assertSame(x, Ops.dropout(x, 0.5, false), "outside training the input passes unchanged");
    assertSame(x, Ops.dropout(x, 0.0, true));
    assertArrayEquals(new float[12], Ops.dropout(x, 1.0, true).toFloatArray(), 0f, "p = 1 zeroes everything");
    for (double p : new double[] {-0.1, 1.5, Double.NaN}) {
      var e = assertThrows(IllegalArgumentException.class, () -> Ops.dropout(x, p, true));
      assertTrue(e.getMessage().contains("between 0 and 1, but got " + p), e.getMessage());
    }
  }

  /** A target that differs from {@code input} by at least 0.1 everywhere, so that |x - t| has no kink nearby. */
  private static Tensor targetAwayFrom(Tensor input) {
    return Ops.add(input.detach(), GradCheck.awayFromZero(0.1f, input.shape()));
  }

  @Test
  void regressionLossGradientsForInputAndTarget() {
    Tensor input = param(3, 4);
    Tensor target = targetAwayFrom(input).requiresGrad(true);
    GradCheck.check("l1 none", in -> Ops.l1LossPerElement(in[0], in[1]), EPS, ATOL, RTOL, input, target);
    GradCheck.check("l1 mean", in -> Ops.l1Loss(in[0], in[1], true), EPS, ATOL, RTOL, input, target);
    GradCheck.check("l1 sum", in -> Ops.l1Loss(in[0], in[1], false), EPS, ATOL, RTOL, input, target);
    GradCheck.check("mse none", in -> Ops.mseLossPerElement(in[0], in[1]), EPS, ATOL, RTOL, input, target);
    GradCheck.check("mse mean", in -> Ops.mseLoss(in[0], in[1], true), EPS, ATOL, RTOL, input, target);
    GradCheck.check("mse sum", in -> Ops.mseLoss(in[0], in[1], false), EPS, ATOL, RTOL, input, target);
  }

  @Test
  void regressionLossValues() {
    Tensor x = Tensor.of(new float[] {1, 2, 3});
    Tensor t = Tensor.of(new float[] {1, 2, 5});
    assertArrayEquals(new float[] {0, 0, 2}, Ops.l1LossPerElement(x, t).toFloatArray());
    assertArrayEquals(new float[] {0, 0, 4}, Ops.mseLossPerElement(x, t).toFloatArray());
    assertEquals(2f / 3, Ops.l1Loss(x, t, true).item(), 1e-6f);
    assertEquals(4f, Ops.mseLoss(x, t, false).item(), 1e-6f);
    assertEquals(0, Ops.l1Loss(x, t, true).dim(), "a reduced loss is a scalar");
  }

  @Test
  void regressionLossShapeErrorsNameBothShapes() {
    var e = assertThrows(IllegalArgumentException.class, () -> Ops.mseLoss(Tensor.zeros(2, 3), Tensor.zeros(3), true));
    assertEquals("mse_loss: input [2, 3] and target [3] must have the same shape", e.getMessage());
    e = assertThrows(IllegalArgumentException.class, () -> Ops.l1LossPerElement(Tensor.zeros(2), Tensor.labels(0, 1)));
    assertTrue(e.getMessage().contains("l1_loss") && e.getMessage().contains("float"), e.getMessage());
  }

  /**
   * GELU's backward writes its input's gradient over the array it can have: the gradient's when only the engine holds
   * it, the slope's its forward kept when no backward reads that again, else a pooled one; each way the bits of the
   * kernel's {@code geluBackward}, also for a gradient the caller holds (left as it was), at an offset, over a kept graph.
   */
  @Test
  void geluGradientTheSameWhicheverArrayItIsWrittenOver() {
    int n = 70_000; // pooled length (ArrayPool.SMALLEST)
    Tensor x = Tensor.randn(n);
    Tensor g = Tensor.randn(n);
    float[] gBefore = g.toFloatArray();
    float[] want = new float[n];
    dev.kiln.runtime.cpu.ActivationKernels.geluBackward(want, 0, g.toFloatArray(), 0, x.toFloatArray(), 0, n);

    Tensor a = x.clone().requiresGrad(true);
    Ops.gelu(a).backward(g); // the caller's gradient, the last backward: over the slope's array
    assertArrayEquals(want, a.grad().toFloatArray(), "over the slope");
    assertArrayEquals(gBefore, g.toFloatArray(), "the caller's gradient left as it was");

    Tensor b = x.clone().requiresGrad(true);
    Tensor y = Ops.gelu(b);
    y.backward(g, true); // the graph kept: the slope is read again, the gradient into a pooled array
    assertArrayEquals(want, b.grad().toFloatArray(), "into a pooled array");
    b.setGrad(null);
    y.backward(g);
    assertArrayEquals(want, b.grad().toFloatArray(), "again, over the slope");

    Tensor c = x.clone().requiresGrad(true);
    Ops.sum(Ops.mul(Ops.gelu(c), g)).backward(); // the engine's own gradient: over it
    assertArrayEquals(want, c.grad().toFloatArray(), "over the engine's gradient"); // g times ones: g exactly

    Tensor wide = Tensor.randn(2, n);
    Tensor d = wide.requiresGrad(true);
    Tensor row = Ops.select(d, 0, 1); // a view at an offset
    float[] wantRow = new float[n];
    dev.kiln.runtime.cpu.ActivationKernels.geluBackward(wantRow, 0, g.toFloatArray(), 0, row.toFloatArray(), 0, n);
    Ops.gelu(row).backward(g);
    float[] gotRow = java.util.Arrays.copyOfRange(d.grad().toFloatArray(), n, 2 * n);
    assertArrayEquals(wantRow, gotRow, "a view at an offset");
  }
}
