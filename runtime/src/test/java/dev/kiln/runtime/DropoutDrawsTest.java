package dev.kiln.runtime;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.kiln.runtime.cpu.ActivationKernels;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/**
 * The dropout mask's integer draws (docs/design-notes.md, "dropout") against the formula they replaced, {@code
 * Generator.doubleAt(start, i) < p ? 0 : keep}, bit for bit: the stream is part of reproducibility (seeded runs, the
 * CUDA kernel's draws).
 */
class DropoutDrawsTest {
  /** Probabilities at the edges: 0 and 1, tiny ones, ones whose scaled value 2^53 p is whole, the floats around them. */
  private static List<Double> edgeProbabilities() {
    List<Double> ps = new ArrayList<>();
    for (double p : new double[] {0, 1, 0.1, 0.25, 0.5, 0.9, 1.0 / 3, Double.MIN_VALUE, Double.MIN_NORMAL, 1e-300,
        0x1.0p-53, 0x1.0p-54, 3 * 0x1.0p-53, 12345 * 0x1.0p-53, 1 - 0x1.0p-53, 0x1.0p-20, 0x1.0p-1 + 0x1.0p-53}) {
      ps.add(p);
      ps.add(Math.nextUp(p));
      ps.add(Math.nextDown(p));
    }
    // outside [0, 1]: callers refuse them, the kernel still decides as the comparison did
    for (double p : new double[] {-0.5, 1.5, Double.NaN, Double.POSITIVE_INFINITY, Double.NEGATIVE_INFINITY}) {
      ps.add(p);
    }
    return ps;
  }

  @Test
  void theIntegerThresholdDecidesAsTheDoubleComparisonAtItsBoundary() {
    for (double p : edgeProbabilities()) {
      long below = Generator.bitsBelow(p);
      for (long u = below - 3; u <= below + 3; u++) {
        if (u < 0 || u >= 1L << 53) {
          continue;
        }
        assertEquals(u * 0x1.0p-53 < p, u < below, "p = " + p + ", 53-bit draw " + u);
      }
    }
    SplittableRandom r = new SplittableRandom(3);
    for (int t = 0; t < 100_000; t++) { // a draw and p made of the same 53 bits, one ulp either side
      long u = r.nextLong() >>> 11;
      double d = u * 0x1.0p-53;
      for (double p : new double[] {d, Math.nextUp(d), Math.nextDown(d), r.nextDouble()}) {
        assertEquals(d < p, u < Generator.bitsBelow(p), "p = " + p + ", 53-bit draw " + u);
      }
    }
  }

  @Test
  void stepsAndBitsAreDoubleAtsDraws() {
    SplittableRandom r = new SplittableRandom(11);
    for (int t = 0; t < 200; t++) {
      long start = r.nextLong();
      long index = r.nextInt(1 << 20);
      long state = Generator.stateAt(start, index);
      for (int i = 0; i < 50; i++, state = Generator.nextState(state)) {
        assertEquals(Generator.doubleAt(start, index + i), Generator.bits(state) * 0x1.0p-53);
      }
    }
  }

  @Test
  void masksAreTheOldFormulasBitForBit() {
    SplittableRandom r = new SplittableRandom(7);
    List<Double> ps = edgeProbabilities();
    for (int t = 0; t < 600; t++) {
      long seed = t < 4 ? new long[] {0, -1, Long.MIN_VALUE, Long.MAX_VALUE}[t] : r.nextLong();
      // lengths around the loop's unrolling and the split over the cores (from 4096 draws on), offsets into the array
      int n = t % 10 == 0 ? 4096 + r.nextInt(60_000) : r.nextInt(300);
      int off = r.nextInt(5);
      double p = t < ps.size() * 2 ? ps.get(t % ps.size()) : r.nextDouble();
      Generator g = new Generator(seed);
      g.nextLong(); // a generator part way through its stream
      float[] mask = new float[off + n + 2];
      ActivationKernels.dropoutMask(mask, off, n, p, g);
      Generator h = new Generator(seed);
      h.nextLong();
      long start = h.reserve(n);
      float keep = ActivationKernels.keepScale(p);
      for (int i = 0; i < n; i++) {
        float old = Generator.doubleAt(start, i) < p ? 0f : keep;
        assertEquals(Float.floatToIntBits(old), Float.floatToIntBits(mask[off + i]),
            "seed " + seed + ", p = " + p + ", n = " + n + ", entry " + i);
      }
      for (int i : new int[] {0, off + n, off + n + 1}) {
        if (i < off || i >= off + n) {
          assertEquals(0f, mask[i], "outside the mask's range");
        }
      }
      assertEquals(h.state(), g.state(), "the generator moved on by one draw an entry");
    }
  }

  @Test
  void theFusedForwardIsTheMaskAppliedBitForBit() {
    SplittableRandom r = new SplittableRandom(13);
    List<Double> ps = edgeProbabilities();
    for (int t = 0; t < 300; t++) {
      long seed = r.nextLong();
      // lengths around the split over the cores (from 4096 draws on), offsets into each array, in place and not
      int n = t % 10 == 0 ? 4096 + r.nextInt(60_000) : r.nextInt(300);
      int xOff = r.nextInt(5), maskOff = r.nextInt(5);
      boolean inPlace = t % 3 == 0, keepMask = t % 4 != 1;
      int outOff = inPlace ? xOff : r.nextInt(5);
      double p = t < ps.size() ? ps.get(t) : r.nextDouble();
      float[] x = new float[xOff + n + 1];
      for (int i = 0; i < x.length; i++) {
        x[i] = (float) r.nextGaussian();
      }
      x[xOff] = Float.NaN; // NaN * 0 stays NaN, as the two passes give it
      if (n > 2) {
        x[xOff + 1] = Float.POSITIVE_INFINITY;
        x[xOff + 2] = -0f;
      }
      float[] expectedMask = new float[n], expected = new float[n];
      Generator g = new Generator(seed);
      ActivationKernels.dropoutMask(expectedMask, 0, n, p, g);
      ActivationKernels.applyMask(expected, 0, x, xOff, expectedMask, 0, n);

      float[] input = x.clone();
      float[] out = inPlace ? input : new float[outOff + n + 1];
      float[] mask = keepMask ? new float[maskOff + n + 1] : null;
      Generator h = new Generator(seed);
      ActivationKernels.dropoutForward(out, outOff, input, xOff, mask, maskOff, n, p, h);
      for (int i = 0; i < n; i++) {
        String where = "seed " + seed + ", p = " + p + ", n = " + n + ", entry " + i;
        assertEquals(Float.floatToIntBits(expected[i]), Float.floatToIntBits(out[outOff + i]), where);
        if (keepMask) {
          assertEquals(Float.floatToIntBits(expectedMask[i]), Float.floatToIntBits(mask[maskOff + i]), where);
        }
      }
      if (keepMask) {
        assertEquals(0f, mask[maskOff + n], "past the mask's range");
      }
      assertEquals(g.state(), h.state(), "the generator moved on by one draw an entry");
    }
  }
}
