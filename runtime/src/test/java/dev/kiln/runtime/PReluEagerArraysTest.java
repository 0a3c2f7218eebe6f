package dev.kiln.runtime;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * Eager PReLU's arrays on the CPU: its output taken from the {@link ArrayPool} (written whole), and x's gradient written
 * over the output's gradient where the engine owns it (each plane's slope sum read first): the same bits as fresh arrays
 * and a caller's gradient, the formula's values.
 */
class PReluEagerArraysTest {
  /** [4, 3, 70, 80]: 67,200 values, enough for the pool, one slope per channel. */
  private static final int[] SHAPE = {4, 3, 70, 80};

  @AfterEach
  void clearPool() {
    ArrayPool.poison = false;
    ArrayPool.clear();
  }

  /** x, the slopes, the output and both gradients, from a gradient {@code g} given by the caller or made by a mul's backward. */
  private static float[][] run(boolean ownedGradient, boolean poisoned) {
    Kiln.manualSeed(4);
    Tensor x = Tensor.randn(SHAPE).requiresGrad(true);
    Tensor w = Tensor.randn(3).requiresGrad(true);
    Tensor g = Tensor.randn(SHAPE);
    ArrayPool.clear();
    ArrayPool.poison = poisoned; // arrays from the pool full of NaN
    for (int k = 0; poisoned && k < ArrayPool.MOST_OF_A_LENGTH; k++) {
      ArrayPool.give(new float[x.numel()]);
    }
    Tensor y = Ops.prelu(x, w);
    if (ownedGradient) {
      Ops.sum(Ops.mul(y, g)).backward(); // y's gradient is 1 * g, in an array the engine made and owns
    } else {
      y.backward(g);
    }
    ArrayPool.poison = false;
    return new float[][] {x.toFloatArray(), w.toFloatArray(), g.toFloatArray(), y.toFloatArray(), x.grad().toFloatArray(),
        w.grad().toFloatArray()};
  }

  @Test
  void pooledAndInPlaceArraysGiveTheFreshArraysBits() {
    float[][] fresh = run(false, false);
    float[] x = fresh[0], w = fresh[1], g = fresh[2], y = fresh[3], dx = fresh[4];
    int inner = SHAPE[2] * SHAPE[3];
    for (int i = 0; i < x.length; i++) {
      float s = w[i / inner % 3];
      assertEquals(Float.floatToIntBits(x[i] > 0 ? x[i] : s * x[i]), Float.floatToIntBits(y[i]), "value " + i);
      assertEquals(Float.floatToIntBits(x[i] > 0 ? g[i] : s * g[i]), Float.floatToIntBits(dx[i]), "x's gradient " + i);
    }
    for (int c = 0; c < 3; c++) {
      double sum = 0;
      for (int i = 0; i < x.length; i++) {
        if (i / inner % 3 == c && x[i] <= 0) {
          sum += (double) g[i] * x[i];
        }
      }
      assertEquals(sum, fresh[5][c], 1e-6 * Math.abs(sum) + 1e-6, "slope " + c + "'s gradient");
    }
    for (boolean owned : new boolean[] {false, true}) {
      float[][] pooled = run(owned, true);
      for (int t = 3; t < fresh.length; t++) {
        for (int i = 0; i < fresh[t].length; i++) {
          assertEquals(Float.floatToIntBits(fresh[t][i]), Float.floatToIntBits(pooled[t][i]),
              (owned ? "an owned gradient" : "a caller's gradient") + ", result " + t + ", entry " + i);
        }
      }
    }
  }
}
