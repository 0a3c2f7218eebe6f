package dev.kiln.runtime;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kiln.runtime.cpu.RecurrentKernels;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * {@link Ops#recurrentLayer} and {@link Ops#recurrentRun} without a gradient (the projection an array of the pool's,
 * the hidden states written alone) against the same ops recording one (the projection by {@link Ops#linear}, the
 * output narrowed out of {@link Ops#recurrent}'s states), bit for bit, for each cell, both ways, with and without
 * initial states and bias; and that a pooled projection full of NaN changes nothing.
 */
class RecurrentRunTest {
  @AfterEach
  void tearDown() {
    ArrayPool.poison = false;
    ArrayPool.clear();
  }

  @Test
  void withoutAGradientTheSameBitsForEveryCell() {
    for (RecurrentKernels.Mode mode : RecurrentKernels.Mode.values()) {
      check(mode, 7, 33, 48, true, false, false);
      check(mode, 5, 32, 128, false, true, true); // a projection of 81920 floats: the pool's
    }
  }

  @Test
  void aPoisonedPooledProjectionChangesNothing() {
    ArrayPool.poison = true;
    for (int round = 0; round < 3; round++) { // the second and third rounds take the first one's projection back
      check(RecurrentKernels.Mode.LSTM, 5, 32, 128, true, true, round == 1);
    }
  }

  @Test
  void anEmptyBatchWithoutAGradient() {
    try (var g = Kiln.noGrad()) {
      Ops.RecurrentRun run = Ops.recurrentLayer(RecurrentKernels.Mode.LSTM, Tensor.zeros(4, 0, 3), Tensor.randn(8, 3), Tensor.randn(8),
          null, null, Tensor.randn(8, 2), Tensor.randn(8), false);
      assertArrayEquals(new int[] {4, 0, 2}, run.output().shape());
      assertArrayEquals(new int[] {0, 2}, run.h().shape());
      assertArrayEquals(new int[] {0, 2}, run.c().shape());
    }
  }

  @Test
  void aBadWeightIsNamed() {
    Tensor x = Tensor.randn(4, 2, 3);
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Ops.recurrentLayer(RecurrentKernels.Mode.LSTM, x,
        Tensor.randn(16, 5), null, null, null, Tensor.randn(16, 4), null, false));
    assertTrue(e.getMessage().contains("needs weight_ih [16, 3]"), e.getMessage());
  }

  private static void check(RecurrentKernels.Mode mode, int steps, int batch, int hidden, boolean bias, boolean initial,
      boolean reverse) {
    Kiln.manualSeed(steps + batch + hidden);
    int in = 20, gh = mode.gates * hidden;
    boolean lstm = mode == RecurrentKernels.Mode.LSTM;
    Tensor x = Tensor.randn(steps, batch, in);
    Tensor wIh = Tensor.randn(gh, in).mul(0.2f).detach().requiresGrad(true), wHh = Tensor.randn(gh, hidden).mul(0.2f).detach()
        .requiresGrad(true);
    Tensor bIh = bias ? Tensor.randn(gh).detach().requiresGrad(true) : null, bHh = bias ? Tensor.randn(gh).detach().requiresGrad(true)
        : null;
    Tensor h0 = initial ? Tensor.randn(batch, hidden) : null, c0 = initial && lstm ? Tensor.randn(batch, hidden) : null;
    Ops.RecurrentRun recorded = Ops.recurrentLayer(mode, x, wIh, bIh, h0, c0, wHh, bHh, reverse);
    Ops.RecurrentRun plain, fromProjection;
    try (var g = Kiln.noGrad()) {
      plain = Ops.recurrentLayer(mode, x, wIh, bIh, h0, c0, wHh, bHh, reverse);
      Tensor projected = Ops.linear(x.reshape(steps * batch, in), wIh, bIh).reshape(steps, batch, gh);
      fromProjection = Ops.recurrentRun(mode, projected, h0, c0, wHh, bHh, reverse);
    }
    assertTrue(recorded.output().requiresGrad());
    for (Ops.RecurrentRun run : new Ops.RecurrentRun[] {plain, fromProjection}) {
      assertBits(recorded.output(), run.output(), mode + " output");
      assertBits(recorded.h(), run.h(), mode + " h");
      if (lstm) {
        assertBits(recorded.c(), run.c(), mode + " c");
      } else {
        assertNull(run.c());
      }
    }
  }

  private static void assertBits(Tensor expected, Tensor actual, String what) {
    assertArrayEquals(expected.shape(), actual.shape(), what);
    float[] e = expected.toFloatArray(), a = actual.toFloatArray();
    int[] eb = new int[e.length], ab = new int[a.length];
    for (int i = 0; i < e.length; i++) {
      eb[i] = Float.floatToRawIntBits(e[i]);
      ab[i] = Float.floatToRawIntBits(a[i]);
    }
    assertArrayEquals(eb, ab, what);
  }
}
