package dev.kiln.runtime.cpu;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * Winograd F(2x2, 3x3) against the textbook loops in double, called directly (ConvKernels takes
 * it only for batches large enough, which would make these cases slow to check), and where
 * ConvKernels takes it.
 */
class WinogradTest {
  private final Random random = new Random(7);

  @Test
  void choosesWinogradOnlyWhereItPays() {
    assertTrue(Winograd.applies(shape(64, 32, 14, 14, 64, 1)), "the seed CNN's second convolution");
    assertFalse(Winograd.applies(shape(64, 1, 28, 28, 32, 1)), "one input channel");
    assertTrue(Winograd.applies(shape(64, 64, 7, 7, 128, 1)), "7x7 outputs fill 49 of 64 tile places, in larger chunks");
    assertFalse(Winograd.applies(shape(64, 64, 5, 5, 128, 1)), "5x5 outputs fill 25 of 36 tile places");
    assertFalse(Winograd.applies(new Conv2dShape(4, 16, 14, 14, 16, 3, 3, 2, 2, 1, 1)), "stride 2");
    assertFalse(Winograd.applies(new Conv2dShape(4, 16, 14, 14, 16, 5, 5, 1, 1, 2, 2)), "5x5 kernel");
    assertFalse(Winograd.applies(shape(0, 16, 14, 14, 16, 1)), "empty batch");
    assertFalse(Winograd.applies(shape(1, 32, 14, 14, 64, 1)), "one sample of 49 tiles: im2col's product splits better");
    assertEquals(Parallel.threads() <= 3, Winograd.applies(shape(2, 128, 28, 28, 128, 1)), "two samples of 196 tiles");
    // one sample's 16 transformed matrices would pass Integer.MAX_VALUE floats: im2col's are smaller
    assertFalse(Winograd.supports(shape(1, 8, 3000, 3000, 64, 1)), "a 3000x3000 map with 64 output channels");
    assertTrue(Winograd.supports(shape(1, 8, 2000, 2000, 64, 1)));
    assertTrue(Winograd.appliesToBackward(shape(64, 64, 16, 16, 64, 1), false));
    assertFalse(Winograd.appliesToBackward(shape(64, 32, 14, 14, 64, 1), false), "weight gradient alone, 32 channels");
  }

  @Test
  void matchesDirectConvolution() {
    int[][] cases = { // batch, inC, H, W, outC, padding (H and W)
        {2, 8, 6, 6, 8, 1, 1},
        {3, 9, 9, 8, 10, 0, 0}, // odd output height: the last tile row has one output row
        {2, 8, 8, 9, 8, 1, 1}, // odd output width: the last tile of each row has one column
        {1, 8, 4, 4, 12, 2, 2}, // padding 2: the tiles' corners read only padding
        {2, 8, 5, 5, 8, 3, 3}, // padding wider than the kernel: rows of tiles entirely in padding
        {2, 8, 6, 7, 8, 2, 0}, // padding on one axis only
        {1, 8, 5, 12, 8, 1, 1}, // a wide map with an odd number of rows
        {40, 8, 8, 8, 8, 1, 1}, // several chunks of samples
        {3, 20, 10, 10, 24, 1, 1}};
    for (int[] c : cases) {
      Conv2dShape s = new Conv2dShape(c[0], c[1], c[2], c[3], c[4], 3, 3, 1, 1, c[5], c[6]);
      String name = Arrays.toString(c);
      assertTrue(Winograd.supports(s), name);
      float[] x = randn(s.batch() * s.inputSampleSize());
      float[] w = randn(s.outChannels() * s.patchSize());
      float[] b = randn(s.outChannels());
      DirectConvolution direct = new DirectConvolution(s, x, w, b);
      int outLen = s.batch() * s.outChannels() * s.outPlaneSize();

      // offsets everywhere, and sentinels around what the kernels write
      float[] out = filled(outLen + 5, Float.NaN);
      Winograd.forward(out, 3, pad(x, 2), 2, pad(w, 1), 1, pad(b, 4), 4, s);
      assertClose(name + " forward", direct.forward(), out, 3);
      assertTrue(Float.isNaN(out[2]) && Float.isNaN(out[outLen + 3]), name + ": wrote outside its output");

      float[] g = randn(outLen);
      direct.backward(g);
      float[] dx = filled(x.length + 3, 99f);
      float[] dw = filled(w.length + 2, 99f);
      float[] db = filled(b.length + 1, 99f);
      Winograd.backward(dx, 1, dw, 2, db, 1, false, pad(g, 3), 3, pad(x, 2), 2, pad(w, 1), 1, s);
      assertClose(name + " dx", direct.dx, dx, 1);
      assertClose(name + " dw", direct.dw, dw, 2);
      assertClose(name + " dbias", direct.db, db, 1);
      assertEquals(99f, dx[0], name + ": wrote before dx");
      assertEquals(99f, dx[x.length + 1], name + ": wrote after dx");
      assertEquals(99f, dw[1], name + ": wrote before dw");

      // accumulating adds one more of each
      Winograd.backward(null, 0, dw, 2, db, 1, true, pad(g, 3), 3, pad(x, 2), 2, pad(w, 1), 1, s);
      assertClose(name + " dw accumulated", twice(direct.dw), dw, 2);
      assertClose(name + " dbias accumulated", twice(direct.db), db, 1);
      // the input gradient alone
      float[] dxOnly = new float[x.length];
      Winograd.backward(dxOnly, 0, null, 0, null, 0, false, g, 0, x, 0, w, 0, s);
      assertClose(name + " dx alone", direct.dx, dxOnly, 0);
    }
  }

  /** ConvKernels hands a batch with 128 tiles per thread to Winograd, with the same results. */
  @Test
  void convKernelsTakesItForLargeEnoughBatches() {
    Conv2dShape s = shape(8 * Parallel.threads(), 8, 8, 8, 8, 1); // 16 tiles a sample
    assertTrue(Winograd.appliesToBackward(s, true));
    float[] x = randn(s.batch() * s.inputSampleSize());
    float[] w = randn(s.outChannels() * s.patchSize());
    float[] b = randn(s.outChannels());
    float[] g = randn(s.batch() * s.outChannels() * s.outPlaneSize());
    DirectConvolution direct = new DirectConvolution(s, x, w, b);
    float[] out = new float[g.length];
    ConvKernels.conv2dForward(out, 0, x, 0, w, 0, b, 0, s);
    assertClose("forward", direct.forward(), out, 0);
    float[] dx = new float[x.length], dw = new float[w.length], db = new float[b.length];
    ConvKernels.conv2dBackward(dx, 0, dw, 0, db, 0, false, g, 0, x, 0, w, 0, s);
    direct.backward(g);
    assertClose("dx", direct.dx, dx, 0);
    assertClose("dw", direct.dw, dw, 0);
    assertClose("dbias", direct.db, db, 0);
  }

  /** The input gradient overwrites: whatever the array held before leaves no trace. */
  @Test
  void inputGradientOverwritesEveryValue() {
    Conv2dShape s = shape(2, 8, 5, 5, 8, 3); // rows and columns of the input that tiles cover only partly
    float[] x = randn(s.batch() * s.inputSampleSize());
    float[] w = randn(s.outChannels() * s.patchSize());
    float[] g = randn(s.batch() * s.outChannels() * s.outPlaneSize());
    float[] clean = new float[x.length];
    float[] dirty = filled(x.length, 1e6f);
    Winograd.backward(clean, 0, null, 0, null, 0, false, g, 0, x, 0, w, 0, s);
    Winograd.backward(dirty, 0, null, 0, null, 0, false, g, 0, x, 0, w, 0, s);
    assertEquals(Arrays.toString(clean), Arrays.toString(dirty));
  }

  /** Values far from zero: the transforms' sums and differences keep the relative error small. */
  @Test
  void staysAccurateForLargeOffsets() {
    Conv2dShape s = shape(2, 16, 8, 8, 16, 1);
    float[] x = randn(s.batch() * s.inputSampleSize());
    for (int i = 0; i < x.length; i++) {
      x[i] += 100f;
    }
    float[] w = randn(s.outChannels() * s.patchSize());
    float[] b = new float[s.outChannels()];
    float[] out = new float[s.batch() * s.outChannels() * s.outPlaneSize()];
    Winograd.forward(out, 0, x, 0, w, 0, b, 0, s);
    double[] expected = new DirectConvolution(s, x, w, b).forward();
    double err = 0, norm = 0;
    for (int i = 0; i < out.length; i++) {
      err += (out[i] - expected[i]) * (out[i] - expected[i]);
      norm += expected[i] * expected[i];
    }
    assertTrue(Math.sqrt(err / norm) < 1e-6, "relative error " + Math.sqrt(err / norm));
  }

  @Test
  void nanPropagatesToTheOutputsThatReadIt() {
    Conv2dShape s = shape(1, 8, 8, 8, 8, 1);
    float[] x = randn(s.inputSampleSize());
    x[3 * 8 + 3] = Float.NaN; // channel 0, row 3, column 3
    float[] w = randn(s.outChannels() * s.patchSize());
    float[] out = new float[s.outChannels() * s.outPlaneSize()];
    Winograd.forward(out, 0, x, 0, w, 0, null, 0, s);
    for (int o = 0; o < 8; o++) {
      for (int i = 0; i < 8; i++) {
        for (int j = 0; j < 8; j++) {
          boolean reads = Math.abs(i - 3) <= 1 && Math.abs(j - 3) <= 1;
          float v = out[(o * 8 + i) * 8 + j];
          assertEquals(reads, Float.isNaN(v), "output " + o + ", " + i + ", " + j + " = " + v);
        }
      }
    }
  }

  private static Conv2dShape shape(int batch, int inC, int h, int w, int outC, int pad) {
    return new Conv2dShape(batch, inC, h, w, outC, 3, 3, 1, 1, pad, pad);
  }

  private float[] randn(int n) {
    float[] a = new float[n];
    for (int i = 0; i < n; i++) {
      a[i] = (float) random.nextGaussian();
    }
    return a;
  }

  static float[] filled(int n, float v) {
    float[] a = new float[n];
    Arrays.fill(a, v);
    return a;
  }

  /** {@code a} after {@code off} values that must not be read (NaN). */
  static float[] pad(float[] a, int off) {
    float[] p = filled(a.length + off + 2, Float.NaN);
    System.arraycopy(a, 0, p, off, a.length);
    return p;
  }

  static double[] twice(double[] a) {
    double[] t = a.clone();
    for (int i = 0; i < t.length; i++) {
      t[i] *= 2;
    }
    return t;
  }

  static void assertClose(String what, double[] expected, float[] actual, int off) {
    for (int i = 0; i < expected.length; i++) {
      double tol = 1e-4 * (1 + Math.abs(expected[i]));
      if (!(Math.abs(expected[i] - actual[off + i]) <= tol)) {
        throw new AssertionError(what + " [" + i + "]: expected " + expected[i] + ", got " + actual[off + i]);
      }
    }
  }
}
