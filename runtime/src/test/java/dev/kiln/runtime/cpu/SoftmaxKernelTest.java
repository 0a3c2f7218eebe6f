package dev.kiln.runtime.cpu;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * Softmax and log-softmax along the last dimension ({@link BlockMath}'s blocks) and along another
 * (double exps): against the definition in double, on rows shorter and longer than a block, rows
 * with masked (-infinity) entries as causal attention makes them, at offsets, and in place.
 */
class SoftmaxKernelTest {
  /** Rows of {@code size} values: normal, scaled up, and every third row causally masked. */
  private static float[] rows(int outer, int size, long seed) {
    Random r = new Random(seed);
    float[] x = new float[outer * size];
    for (int o = 0; o < outer; o++) {
      for (int k = 0; k < size; k++) {
        x[o * size + k] = o % 3 == 2 && k > o % size ? Float.NEGATIVE_INFINITY : (float) (r.nextGaussian() * (1 + o % 5) * 4);
      }
    }
    return x;
  }

  /** Softmax of one row (elements {@code from + k*stride}) in double. */
  private static double[] exact(float[] x, int from, int size, int stride) {
    double max = Double.NEGATIVE_INFINITY, sum = 0;
    for (int k = 0; k < size; k++) {
      max = Math.max(max, x[from + k * stride]);
    }
    double[] e = new double[size];
    for (int k = 0; k < size; k++) {
      e[k] = Math.exp(x[from + k * stride] - max);
      sum += e[k];
    }
    for (int k = 0; k < size; k++) {
      e[k] /= sum;
    }
    return e;
  }

  private static void check(int outer, int size, int inner, double ulps) {
    float[] x = rows(outer * inner, size, size * 31L + inner);
    int off = 5;
    float[] in = new float[x.length + off];
    System.arraycopy(x, 0, in, off, x.length);
    float[] out = new float[x.length + 3];
    ActivationKernels.softmaxForward(out, 3, in, off, outer, size, inner);
    float[] logOut = new float[x.length];
    ActivationKernels.logSoftmaxForward(logOut, 0, x, 0, outer, size, inner);
    float[] inPlace = x.clone();
    ActivationKernels.softmaxForward(inPlace, 0, inPlace, 0, outer, size, inner);
    double worst = 0, worstLog = 0;
    for (int o = 0; o < outer; o++) {
      for (int i = 0; i < inner; i++) {
        int first = o * size * inner + i;
        double[] want = exact(x, first, size, inner);
        for (int k = 0; k < size; k++) {
          int at = first + k * inner;
          float got = out[3 + at];
          assertEquals(got, inPlace[at], "in place, row " + o + ", element " + k);
          if (want[k] == 0) {
            assertEquals(0f, got, "a masked or vanishing entry is exactly 0: row " + o + ", element " + k);
            continue;
          }
          if (want[k] >= Float.MIN_NORMAL) {
            worst = Math.max(worst, Math.abs(got - want[k]) / Math.ulp((float) want[k]));
            double wantLog = Math.log(want[k]);
            worstLog = Math.max(worstLog, Math.abs(logOut[at] - wantLog) / Math.max(Math.ulp((float) wantLog), Math.ulp(1f)));
          }
        }
      }
    }
    assertTrue(worst <= ulps, "softmax [" + outer + ", " + size + ", " + inner + "]: " + worst + " ulp");
    assertTrue(worstLog <= 2, "log-softmax [" + outer + ", " + size + ", " + inner + "]: " + worstLog + " ulp");
  }

  @Test
  void lastDimensionWithinFourUlpShortAndLongRows() {
    check(300, 28, 1, 4);
    check(40, 1000, 1, 4);
    check(7, 3000, 1, 4); // longer than a block: three blocks, then the scaling pass
    check(5, 1, 1, 0);
  }

  @Test
  void anotherDimensionWithinOneAndAHalfUlp() {
    check(6, 10, 7, 1.5);
  }

  /** A softmax's forward or backward kernel, as ActivationKernels' signatures. */
  private interface Forward {
    void run(float[] out, int outOff, float[] x, int xOff, int outer, int size, int inner);
  }

  private interface Backward {
    void run(float[] dx, int dxOff, float[] dout, int dOff, float[] y, int yOff, int outer, int size, int inner);
  }

  /**
   * A backward's case: the forward's {@code y} of {@link #rows}, a random incoming gradient {@code g} (its values from
   * offset 2) and the backward's {@code dx} (from offset 1), which the backward in place (dx over dout) matches.
   */
  private record BackwardCase(float[] y, float[] g, float[] dx) {
    static BackwardCase run(Forward forward, Backward backward, int outer, int size, int inner, long a, long b) {
      Random r = new Random(size + a * inner);
      float[] x = rows(outer * inner, size, size * b + inner);
      float[] y = new float[x.length];
      forward.run(y, 0, x, 0, outer, size, inner);
      float[] g = new float[x.length + 2];
      for (int i = 0; i < g.length; i++) {
        g[i] = (float) r.nextGaussian();
      }
      float[] dx = new float[x.length + 1];
      backward.run(dx, 1, g, 2, y, 0, outer, size, inner);
      float[] inPlace = java.util.Arrays.copyOfRange(g, 2, g.length);
      backward.run(inPlace, 0, inPlace, 0, y, 0, outer, size, inner);
      for (int i = 0; i < x.length; i++) {
        assertEquals(dx[1 + i], inPlace[i], "in place, at " + i);
      }
      return new BackwardCase(y, g, dx);
    }
  }

  /** The backward {@code y (g - sum(g y))} against double, at offsets and in place (dx over dout). */
  private static void checkBackward(int outer, int size, int inner) {
    BackwardCase c = BackwardCase.run(ActivationKernels::softmaxForward, ActivationKernels::softmaxBackward, outer, size, inner,
        7, 17);
    float[] y = c.y(), g = c.g(), dx = c.dx();
    double worst = 0;
    for (int o = 0; o < outer; o++) {
      for (int i = 0; i < inner; i++) {
        int first = o * size * inner + i;
        double dot = 0, scale = 0;
        for (int k = 0; k < size; k++) {
          dot += (double) g[2 + first + k * inner] * y[first + k * inner];
          scale = Math.max(scale, Math.abs(g[2 + first + k * inner]));
        }
        for (int k = 0; k < size; k++) {
          int at = first + k * inner;
          double want = y[at] * (g[2 + at] - dot);
          // float steps: g - dot cancels, so the error is measured against y times the row's gradient scale
          worst = Math.max(worst, Math.abs(dx[1 + at] - want) / (Math.max(y[at], Float.MIN_NORMAL) * Math.max(scale, Math.abs(dot))));
        }
      }
    }
    assertTrue(worst <= 4e-7, "softmax backward [" + outer + ", " + size + ", " + inner + "]: " + worst);
  }

  @Test
  void backwardAgreesWithTheDefinition() {
    checkBackward(300, 28, 1);
    checkBackward(3, 3000, 1);
    checkBackward(6, 10, 7);
  }

  /** Log-softmax's backward {@code g - exp(y) sum(g)} against double, at offsets and in place (dx over dout). */
  private static void checkLogBackward(int outer, int size, int inner) {
    BackwardCase c = BackwardCase.run(ActivationKernels::logSoftmaxForward, ActivationKernels::logSoftmaxBackward, outer, size,
        inner, 5, 13);
    float[] y = c.y(), g = c.g(), dx = c.dx();
    double worst = 0;
    for (int o = 0; o < outer; o++) {
      for (int i = 0; i < inner; i++) {
        int first = o * size * inner + i;
        double sum = 0, scale = 0;
        for (int k = 0; k < size; k++) {
          sum += g[2 + first + k * inner];
          scale = Math.max(scale, Math.abs(g[2 + first + k * inner]));
        }
        for (int k = 0; k < size; k++) {
          int at = first + k * inner;
          double want = g[2 + at] - Math.exp(y[at]) * sum;
          // the difference cancels: the error is measured against the row's gradient scale
          worst = Math.max(worst, Math.abs(dx[1 + at] - want) / Math.max(scale, Math.abs(sum)));
        }
      }
    }
    assertTrue(worst <= 2.5e-7, "log-softmax backward [" + outer + ", " + size + ", " + inner + "]: " + worst);
  }

  @Test
  void logSoftmaxBackwardAgreesWithTheDefinition() {
    checkLogBackward(300, 28, 1);
    checkLogBackward(100, 96, 1);
    checkLogBackward(3, 3000, 1);
    checkLogBackward(6, 10, 7);
  }

  @Test
  void rowsWithExtremeMaximaBesideOrdinaryOnes() {
    // one block: an ordinary row, a row near the float limit, a row with +infinity (NaN, as PyTorch's)
    float big = 3e38f;
    float[] x = {0f, 1f, 2f, big, big / 2, Float.NEGATIVE_INFINITY, Float.POSITIVE_INFINITY, 0f, 1f};
    float[] out = new float[9];
    ActivationKernels.softmaxForward(out, 0, x, 0, 3, 3, 1);
    double[] first = exact(x, 0, 3, 1);
    for (int k = 0; k < 3; k++) {
      assertEquals(first[k], out[k], 2 * Math.ulp((float) first[k]), "the ordinary row keeps its accuracy");
    }
    assertEquals(1f, out[3]);
    assertEquals(0f, out[4]);
    assertEquals(0f, out[5]);
    assertTrue(Float.isNaN(out[6]) && Float.isNaN(out[7]));
  }

  /**
   * Short rows are shifted by their first value, or by their maximum where the first is extreme or
   * the maximum more than 44 above it, or the first 2^20 or more in magnitude (ActivationKernels.rowsShiftedByFirst): rows either way, and at
   * the edge, each give the same bits alone as among the others and in place, within 4 ulp of the
   * exact softmax.
   */
  @Test
  void rowsShiftedByTheirFirstValueOrTheirMaximumAgreeAloneAndTogether() {
    int size = 16;
    float[][] rows = new float[12][size];
    Random r = new Random(11);
    for (float[] row : rows) {
      for (int k = 0; k < size; k++) {
        row[k] = (float) r.nextGaussian();
      }
    }
    rows[1][5] = rows[1][0] + 40; // a large term: 2^57.7, the first shift kept
    rows[2][5] = rows[2][0] + 50; // a sum above 2^64: the maximum's shift
    rows[3][0] = Float.NEGATIVE_INFINITY; // a masked first value
    rows[4][0] = 2e37f; // an extreme first value, the rest far below: 1, then 0s
    rows[5][3] = Float.NaN;
    rows[6][7] = Float.POSITIVE_INFINITY;
    rows[9][0] = 3e6f; // a first value above 2^20: the maximum's shift
    rows[9][1] = 3e6f + 1;
    rows[10][0] = 1f;
    rows[10][3] = 0x1p25f; // far above the first, where the difference's rounding error is 1: capped, then the maximum's shift
    rows[11][2] = rows[11][0] + 88.5f; // just above the cap
    for (int k = 1; k < size; k++) {
      rows[7][k] = rows[7][0] - 80 - 2 * k; // far below the first: 1, then values down to subnormal and 0
      rows[8][k] = k % 2 == 0 ? Float.NEGATIVE_INFINITY : rows[8][0] + 3 * k; // masked, and rising past the first
    }
    float[] all = new float[rows.length * size];
    for (int i = 0; i < rows.length; i++) {
      System.arraycopy(rows[i], 0, all, i * size, size);
    }
    float[] together = new float[all.length];
    ActivationKernels.softmaxForward(together, 0, all, 0, rows.length, size, 1);
    float[] inPlace = all.clone();
    ActivationKernels.softmaxForward(inPlace, 0, inPlace, 0, rows.length, size, 1);
    for (int i = 0; i < rows.length; i++) {
      float[] alone = new float[size];
      ActivationKernels.softmaxForward(alone, 0, rows[i], 0, 1, size, 1);
      double[] want = exact(rows[i], 0, size, 1);
      for (int k = 0; k < size; k++) {
        float got = together[i * size + k];
        assertEquals(Float.floatToIntBits(alone[k]), Float.floatToIntBits(got), "row " + i + ", element " + k + " alone and together");
        assertEquals(Float.floatToIntBits(got), Float.floatToIntBits(inPlace[i * size + k]), "row " + i + ", element " + k + " in place");
        if (Double.isNaN(want[k])) {
          assertTrue(Float.isNaN(got), "row " + i + ", element " + k + ": NaN, as PyTorch's");
        } else if (want[k] == 0 || i == 4) {
          assertEquals((float) want[k], got, "row " + i + ", element " + k);
        } else if (want[k] >= Float.MIN_NORMAL) {
          assertEquals(want[k], got, 4 * Math.ulp((float) want[k]), "row " + i + ", element " + k);
        } else { // a subnormal result, where the exp (from about e^-87.3 of the row's largest term) rounds or flushes to 0
          assertTrue(got >= 0 && got < Float.MIN_NORMAL, "row " + i + ", element " + k + " (subnormal): " + got);
        }
      }
    }
  }

  @Test
  void aRowOfOnlyMinusInfinityIsNaNAsPyTorchs() {
    float[] x = {Float.NEGATIVE_INFINITY, Float.NEGATIVE_INFINITY, 1, 2};
    float[] out = new float[4];
    ActivationKernels.softmaxForward(out, 0, x, 0, 2, 2, 1);
    assertTrue(Float.isNaN(out[0]) && Float.isNaN(out[1]));
    assertEquals(1, out[2] + out[3], 1e-7);
  }
}
