package dev.kiln.runtime.cpu;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * {@link ArithmeticKernels} at offsets, on sizes the cores split, against PyTorch's formulas written
 * out: a sub's and a true quotient's values and element-wise gradients bit for bit (one float
 * operation each, in ATen's order: {@code -g * ((a / b) / b)} for the denominator), the sums over a
 * repeated operand's repeats within float rounding of the same sums in double, written or added
 * ({@code accumulate}), and nothing written for a null gradient.
 */
class ArithmeticKernelsTest {
  /** A big operand {@code [OUTER, SIZE, INNER]} and a small one {@code [OUTER, INNER]} repeated along the middle. */
  private static final int OUTER = 7, SIZE = 90, INNER = 33, BIG = OUTER * SIZE * INNER, SMALL = OUTER * INNER;

  private final Random r = new Random(5);

  /** {@code count} values at offset {@code off}, away from 0 by at least 0.5 (denominators). */
  private float[] values(int off, int count) {
    float[] v = new float[off + count];
    for (int i = 0; i < count; i++) {
      double x = r.nextGaussian();
      v[off + i] = (float) (x + Math.copySign(0.5, x));
    }
    return v;
  }

  /** The index into the small operand of the big one's index {@code q}. */
  private static int small(int q) {
    return q / (SIZE * INNER) * INNER + q % INNER;
  }

  @Test
  void subAndDivOfOneShapeAndRepeatedOnEitherSide() {
    float[] big = values(3, BIG), rep = values(2, SMALL);
    for (boolean smallFirst : new boolean[] {false, true}) {
      float[] sub = new float[1 + BIG], div = new float[1 + BIG];
      ArithmeticKernels.subRepeatedForward(sub, 1, big, 3, rep, 2, OUTER, SIZE, INNER, smallFirst);
      ArithmeticKernels.divRepeatedForward(div, 1, big, 3, rep, 2, OUTER, SIZE, INNER, smallFirst);
      for (int q = 0; q < BIG; q++) {
        float a = smallFirst ? rep[2 + small(q)] : big[3 + q], b = smallFirst ? big[3 + q] : rep[2 + small(q)];
        assertEquals(a - b, sub[1 + q], 0f, "sub at " + q);
        assertEquals(a / b, div[1 + q], 0f, "div at " + q);
      }
    }
    float[] other = values(4, BIG), sub = new float[BIG], div = new float[BIG], shifted = new float[BIG];
    ArithmeticKernels.subForward(sub, 0, big, 3, other, 4, BIG);
    ArithmeticKernels.divForward(div, 0, big, 3, other, 4, BIG);
    ArithmeticKernels.shift(shifted, 0, big, 3, BIG, -0.75f);
    for (int q = 0; q < BIG; q++) {
      assertEquals(big[3 + q] - other[4 + q], sub[q], 0f);
      assertEquals(big[3 + q] / other[4 + q], div[q], 0f);
      assertEquals(big[3 + q] + -0.75f, shifted[q], 0f);
    }
  }

  @Test
  void elementWiseGradientsArePyTorchsBitForBit() {
    float[] g = values(1, BIG), a = values(2, BIG), b = values(3, BIG), rep = values(4, SMALL);
    float[] y = new float[BIG], yRep = new float[BIG];
    ArithmeticKernels.divForward(y, 0, a, 2, b, 3, BIG);
    ArithmeticKernels.divRepeatedForward(yRep, 0, a, 2, rep, 4, OUTER, SIZE, INNER, false);
    for (boolean accumulate : new boolean[] {false, true}) {
      float[] start = values(0, BIG);
      float[] num = start.clone(), den = start.clone(), numRep = start.clone(), neg = start.clone();
      ArithmeticKernels.numeratorBackward(num, 0, g, 1, b, 3, BIG, accumulate);
      ArithmeticKernels.denominatorBackward(den, 0, g, 1, y, 0, b, 3, BIG, accumulate);
      ArithmeticKernels.numeratorRepeatedBackward(numRep, 0, g, 1, rep, 4, OUTER, SIZE, INNER, accumulate);
      ArithmeticKernels.subtrahendBackward(neg, 0, g, 1, BIG, accumulate);
      for (int q = 0; q < BIG; q++) {
        float base = accumulate ? start[q] : 0f;
        assertEquals(base + g[1 + q] / b[3 + q], num[q], 0f, "g / b");
        assertEquals(base + -g[1 + q] * ((a[2 + q] / b[3 + q]) / b[3 + q]), den[q], 0f, "-g (a / b) / b");
        assertEquals(base + g[1 + q] / rep[4 + small(q)], numRep[q], 0f, "g / b repeated");
        assertEquals(base + -g[1 + q], neg[q], 0f, "-g");
      }
    }
    ArithmeticKernels.numeratorBackward(null, 0, g, 1, b, 3, BIG, false); // nothing to write, no failure
    ArithmeticKernels.denominatorSumBackward(null, 0, g, 1, yRep, 0, rep, 4, OUTER, SIZE, INNER, true);
  }

  @Test
  void repeatedOperandsGetTheirGradientsSummedOverTheRepeats() {
    float[] g = values(1, BIG), big = values(2, BIG), rep = values(3, SMALL);
    float[] y = new float[BIG], yFirst = new float[BIG];
    ArithmeticKernels.divRepeatedForward(y, 0, big, 2, rep, 3, OUTER, SIZE, INNER, false); // big / rep
    ArithmeticKernels.divRepeatedForward(yFirst, 0, big, 2, rep, 3, OUTER, SIZE, INNER, true); // rep / big
    double[] neg = new double[SMALL], numerator = new double[SMALL], denominator = new double[SMALL];
    for (int q = 0; q < BIG; q++) {
      int s = small(q);
      neg[s] -= g[1 + q];
      numerator[s] += g[1 + q] / big[2 + q]; // rep / big: the numerator's terms, each a float quotient
      denominator[s] += -g[1 + q] * ((big[2 + q] / rep[3 + s]) / rep[3 + s]); // big / rep: the denominator's
    }
    for (boolean accumulate : new boolean[] {false, true}) {
      float[] start = values(0, SMALL);
      float[] dNeg = start.clone(), dNum = start.clone(), dDen = start.clone();
      ArithmeticKernels.subtrahendSumBackward(dNeg, 0, g, 1, OUTER, SIZE, INNER, accumulate);
      ArithmeticKernels.numeratorSumBackward(dNum, 0, g, 1, big, 2, OUTER, SIZE, INNER, accumulate);
      ArithmeticKernels.denominatorSumBackward(dDen, 0, g, 1, y, 0, rep, 3, OUTER, SIZE, INNER, accumulate);
      for (int s = 0; s < SMALL; s++) {
        float base = accumulate ? start[s] : 0f;
        assertClose(base, neg[s], dNeg[s], "-sum g");
        assertClose(base, numerator[s], dNum[s], "sum g / b");
        assertClose(base, denominator[s], dDen[s], "sum -g (a / b) / b");
      }
    }
  }

  /** {@code base + sum} within the rounding of the sum to float and of the float addition. */
  private static void assertClose(float base, double sum, float got, String what) {
    double want = base + sum;
    double slack = 2 * Math.ulp((float) Math.max(Math.max(Math.abs(sum), Math.abs(want)), 1));
    assertTrue(Math.abs(want - got) <= slack, what + ": " + got + " for " + want);
  }
}
