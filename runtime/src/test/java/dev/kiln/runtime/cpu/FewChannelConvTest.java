package dev.kiln.runtime.cpu;

import static dev.kiln.runtime.cpu.WinogradTest.assertClose;
import static dev.kiln.runtime.cpu.WinogradTest.filled;
import static dev.kiln.runtime.cpu.WinogradTest.pad;
import static dev.kiln.runtime.cpu.WinogradTest.twice;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** The direct kernels for 3x3 convolutions of few input channels against the textbook loops in double, called directly and through ConvKernels. */
class FewChannelConvTest {
  private final Random random = new Random(11);

  @Test
  void appliesToFirstLayersOnly() {
    assertTrue(FewChannelConv.applies(shape(64, 1, 28, 28, 32, 1)), "FashionResNet's stem, the seed CNN's first layer");
    assertTrue(FewChannelConv.applies(shape(8, 3, 32, 32, 32, 1)), "an RGB image");
    assertFalse(FewChannelConv.applies(shape(64, 4, 28, 28, 32, 1)), "four input channels");
    assertFalse(FewChannelConv.applies(shape(64, 1, 6, 6, 32, 1)), "outputs narrower than 8");
    assertFalse(FewChannelConv.applies(new Conv2dShape(4, 1, 28, 28, 16, 3, 3, 2, 2, 1, 1)), "stride 2");
    assertFalse(FewChannelConv.applies(new Conv2dShape(4, 1, 28, 28, 16, 5, 5, 1, 1, 2, 2)), "5x5 kernel");
    assertFalse(FewChannelConv.applies(shape(0, 1, 28, 28, 16, 1)), "empty batch");
  }

  @Test
  void matchesDirectConvolution() {
    int[][] cases = { // batch, inC, H, W, outC, padding (H and W)
        {2, 1, 8, 8, 4, 1, 1},
        {3, 2, 9, 11, 5, 0, 0}, // no padding, odd sizes
        {2, 3, 10, 9, 6, 2, 2}, // padding 2: the corners read only padding
        {2, 1, 12, 10, 3, 1, 0}, // padding on one axis only
        {2, 1, 3, 8, 4, 3, 1}, // padding wider than the map: rows of outputs read only padding
        {25, 1, 28, 28, 3, 1, 1}, // several chunks of samples in the weight gradient
        {1, 2, 8, 9, 5, 1, 1}, // one sample: its output channels in groups, unevenly
        {1, 1, 28, 28, 7, 1, 1}}; // one sample, enough work to split the groups over the threads
    for (int[] c : cases) {
      Conv2dShape s = shape(c[0], c[1], c[2], c[3], c[4], c[5], c[6]);
      String name = Arrays.toString(c);
      assertTrue(FewChannelConv.applies(s), name);
      float[] x = randn(s.batch() * s.inputSampleSize());
      float[] w = randn(s.outChannels() * s.patchSize());
      float[] b = randn(s.outChannels());
      DirectConvolution direct = new DirectConvolution(s, x, w, b);
      int outLen = s.batch() * s.outChannels() * s.outPlaneSize();

      float[] out = filled(outLen + 5, Float.NaN); // offsets everywhere, and sentinels around what the kernel writes
      FewChannelConv.forward(out, 3, pad(x, 2), 2, pad(w, 1), 1, pad(b, 4), 4, s);
      assertClose(name + " forward", direct.forward(), out, 3);
      assertTrue(Float.isNaN(out[2]) && Float.isNaN(out[outLen + 3]), name + ": wrote outside its output");

      float[] g = randn(outLen);
      direct.backward(g);
      float[] dw = filled(w.length + 3, 99f);
      float[] db = filled(b.length + 1, 99f);
      FewChannelConv.weightGradient(dw, 2, db, 1, false, pad(g, 3), 3, pad(x, 2), 2, s);
      assertClose(name + " dw", direct.dw, dw, 2);
      assertClose(name + " dbias", direct.db, db, 1);
      assertEquals(99f, dw[1], name + ": wrote before dw");
      assertEquals(99f, dw[w.length + 2], name + ": wrote after dw");
      FewChannelConv.weightGradient(dw, 2, db, 1, true, pad(g, 3), 3, pad(x, 2), 2, s); // accumulating adds one more
      assertClose(name + " dw accumulated", twice(direct.dw), dw, 2);
      assertClose(name + " dbias accumulated", twice(direct.db), db, 1);

      // through ConvKernels: the input gradient by im2col beside the direct weight gradient, and without a bias
      float[] dx = new float[x.length], dw2 = new float[w.length];
      ConvKernels.conv2dBackward(dx, 0, dw2, 0, null, 0, false, g, 0, x, 0, w, 0, s);
      assertClose(name + " dx", direct.dx, dx, 0);
      assertClose(name + " dw through ConvKernels", direct.dw, dw2, 0);
      float[] noBias = new float[outLen];
      ConvKernels.conv2dForward(noBias, 0, x, 0, w, 0, null, 0, s);
      double[] expected = new DirectConvolution(s, x, w, new float[s.outChannels()]).forward();
      assertClose(name + " forward without bias", expected, noBias, 0);
    }
  }

  /** A NaN input reaches the outputs whose windows hold it, and every weight's gradient (each multiplies it once). */
  @Test
  void nanPropagatesToTheOutputsAndWeightsThatReadIt() {
    Conv2dShape s = shape(1, 1, 8, 8, 2, 1);
    float[] x = randn(s.inputSampleSize());
    x[3 * 8 + 3] = Float.NaN;
    float[] w = randn(s.outChannels() * s.patchSize());
    float[] out = new float[s.outChannels() * s.outPlaneSize()];
    FewChannelConv.forward(out, 0, x, 0, w, 0, null, 0, s);
    for (int o = 0; o < 2; o++) {
      for (int i = 0; i < 8; i++) {
        for (int j = 0; j < 8; j++) {
          boolean reads = Math.abs(i - 3) <= 1 && Math.abs(j - 3) <= 1;
          assertEquals(reads, Float.isNaN(out[(o * 8 + i) * 8 + j]), "output " + o + ", " + i + ", " + j);
        }
      }
    }
    float[] dw = new float[w.length];
    FewChannelConv.weightGradient(dw, 0, null, 0, false, randn(out.length), 0, x, 0, s);
    for (float v : dw) {
      assertTrue(Float.isNaN(v), "every weight reads the NaN at some output: " + Arrays.toString(dw));
    }
  }

  private static Conv2dShape shape(int batch, int inC, int h, int w, int outC, int pad) {
    return shape(batch, inC, h, w, outC, pad, pad);
  }

  private static Conv2dShape shape(int batch, int inC, int h, int w, int outC, int padH, int padW) {
    return new Conv2dShape(batch, inC, h, w, outC, 3, 3, 1, 1, padH, padW);
  }

  private float[] randn(int n) {
    float[] a = new float[n];
    for (int i = 0; i < n; i++) {
      a[i] = (float) random.nextGaussian();
    }
    return a;
  }
}
