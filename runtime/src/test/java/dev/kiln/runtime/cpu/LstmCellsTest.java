package dev.kiln.runtime.cpu;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.kiln.runtime.Kiln;
import dev.kiln.runtime.Tensor;
import org.junit.jupiter.api.Test;

/**
 * The LSTM's cells in blocks ({@code RecurrentKernels.lstmCells}) against the row-by-row cells they replaced, bit for
 * bit: the states, what is kept for the backward, the last states, and the hidden states alone ({@code
 * forwardHidden}); rows side by side in a block (hidden 128, 8 rows; 24, 42 rows), one row's columns in several
 * blocks (hidden 1500), a last block of fewer rows, with and without bias and initial states, both ways.
 */
class LstmCellsTest {
  private static final RecurrentKernels.Mode LSTM = RecurrentKernels.Mode.LSTM;

  @Test
  void blocksOfRowsGiveTheRowWiseBits() {
    check(5, 11, 128, true, true, false); // 8 rows a block, then 3
    check(4, 32, 128, false, false, true);
    check(3, 45, 24, true, false, true); // 42 rows a block, then 3
  }

  @Test
  void rowsLongerThanABlockGiveTheRowWiseBits() {
    check(3, 3, 1500, true, true, false); // 1024 columns, then 476
  }

  @Test
  void largeAndSpecialPreActivations() {
    check(2, 9, 40, true, true, true, 30f);
  }

  private static void check(int steps, int batch, int hidden, boolean bias, boolean initial, boolean reverse) {
    check(steps, batch, hidden, bias, initial, reverse, 1f);
  }

  private static void check(int steps, int batch, int hidden, boolean bias, boolean initial, boolean reverse, float scale) {
    Kiln.manualSeed(steps * 1000 + batch * 10 + hidden);
    int gh = 4 * hidden, bh = batch * hidden;
    float[] xProj = Tensor.randn(steps, batch, gh).mul(scale).toFloatArray();
    if (scale > 1) { // the activations' special values, where a pre-activation is one
      xProj[0] = Float.NaN;
      xProj[1] = Float.POSITIVE_INFINITY;
      xProj[hidden + 2] = Float.NEGATIVE_INFINITY;
      xProj[2 * hidden + 3] = -0f;
    }
    Tensor wHh = Tensor.randn(gh, hidden).mul(0.2f);
    float[] bHh = bias ? Tensor.randn(gh).toFloatArray() : null;
    float[] h0 = initial ? Tensor.randn(batch, hidden).toFloatArray() : null;
    float[] c0 = initial ? Tensor.randn(batch, hidden).toFloatArray() : null;
    int xOff = 3; // xProj from an offset, as a view's
    float[] shifted = new float[xOff + xProj.length];
    System.arraycopy(xProj, 0, shifted, xOff, xProj.length);
    float[] rowWise = new float[steps * batch * 2 * hidden], blocked = rowWise.clone(), hiddenOnly = new float[steps * bh];
    RecurrentKernels.Saved a = RecurrentKernels.forward(LSTM, steps, batch, hidden, reverse, shifted, xOff, h0, 0, c0, 0, wHh, bHh, 0,
        rowWise, true, false, false);
    RecurrentKernels.Saved b = RecurrentKernels.forward(LSTM, steps, batch, hidden, reverse, shifted, xOff, h0, 0, c0, 0, wHh, bHh, 0,
        blocked, true, true, false);
    RecurrentKernels.Saved c = RecurrentKernels.forwardHidden(LSTM, steps, batch, hidden, reverse, shifted, xOff, h0, 0, c0, 0, wHh,
        bHh, 0, hiddenOnly);
    assertBits(rowWise, blocked, "states");
    assertBits(a.acts(), b.acts(), "the kept gates");
    assertBits(a.hPrev(), b.hPrev(), "the kept hidden states");
    assertBits(a.cPrev(), b.cPrev(), "the kept cell states");
    for (float[] last : new float[][] {b.h(), c.h()}) {
      assertBits(a.h(), last, "last h");
    }
    for (float[] last : new float[][] {b.c(), c.c()}) {
      assertBits(a.c(), last, "last c");
    }
    float[] hiddenStates = new float[steps * bh];
    MathKernels.copyRows(hiddenStates, 0, hidden, rowWise, 0, 2 * hidden, hidden, steps * batch);
    assertBits(hiddenStates, hiddenOnly, "the hidden states alone");
    int last = reverse ? 0 : steps - 1;
    float[] lastH = new float[bh];
    System.arraycopy(hiddenStates, last * bh, lastH, 0, bh);
    assertBits(lastH, a.h(), "the last h is the last step's");
  }

  /**
   * The same bits, -0 apart from +0, every NaN one value: which NaN an operation of two NaNs gives (its sign) follows the
   * operand order the JIT picks for a loop, scalar or vectorised, not the kernel's arithmetic.
   */
  private static void assertBits(float[] expected, float[] actual, String what) {
    assertEquals(expected.length, actual.length, what);
    int[] e = new int[expected.length], g = new int[actual.length];
    for (int i = 0; i < e.length; i++) {
      e[i] = Float.floatToIntBits(expected[i]);
      g[i] = Float.floatToIntBits(actual[i]);
    }
    assertArrayEquals(e, g, what);
  }
}
