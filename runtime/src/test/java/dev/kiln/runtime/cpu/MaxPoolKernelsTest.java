package dev.kiln.runtime.cpu;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * The max-pooling kernels against a straightforward reference (docs/design-notes.md, "Max pooling's kernels"): odd
 * sizes, ties, NaN, infinities and -0, at offsets. The first maximum of a window in row-major order wins; values
 * and argmax are compared bit for bit (NaN as NaN).
 */
class MaxPoolKernelsTest {
  private static final float[] LEVELS = {
    Float.NEGATIVE_INFINITY, -2f, -1f, -0f, 0f, 0f, 0.5f, 0.5f, 1f, 1f, 1.5f, 3f, Float.POSITIVE_INFINITY
  };
  private static final int[][] SIZES = {{2, 3, 7, 9}, {1, 2, 2, 2}, {3, 1, 5, 3}, {2, 2, 28, 28}, {1, 1, 6, 4}, {1, 2, 3, 6}};

  /** Values from a few levels (ties everywhere), a NaN in about one window of {@code nanEvery}. */
  private static float[] values(Random r, int len, int nanEvery) {
    float[] x = new float[len];
    for (int i = 0; i < len; i++) {
      x[i] = r.nextInt(4 * nanEvery) == 0 ? Float.NaN : r.nextInt(3) == 0 ? r.nextFloat() : LEVELS[r.nextInt(LEVELS.length)];
    }
    return x;
  }

  @Test
  void plainPoolingMatchesTheReference() {
    Random r = new Random(1);
    for (int[] size : SIZES) {
      for (int nanEvery : new int[] {3, 1 << 20}) {
        Pool2dShape s = new Pool2dShape(size[0], size[1], size[2], size[3], 2, 2, 2, 2, 0, 0, false);
        float[] x = values(r, 5 + size[0] * size[1] * size[2] * size[3], nanEvery);
        int outLen = size[0] * size[1] * s.outHeight() * s.outWidth();
        float[] out = new float[outLen + 3];
        int[] argmax = new int[outLen];
        ConvKernels.maxPool2dForward(out, 3, argmax, x, 5, s);
        assertMatchesReference(x, 5, s, out, 3, argmax, false);
      }
    }
  }

  /**
   * Without an argmax (inference's pooling) the values are those with it, bit for bit (NaN's and -0's included), over
   * windows that take each of its loops: the plain 2x2, 1-d windows over one row (kernel 2 and 3, strides 1-3),
   * padded and overlapping 2-d windows, ceil mode; at offsets, nothing written outside.
   */
  @Test
  void valuesWithoutArgmaxAreTheValuesWithIt() {
    Random r = new Random(5);
    int[][] windows = { // kernelH, kernelW, strideH, strideW, padH, padW, ceil
        {2, 2, 2, 2, 0, 0, 0}, {1, 2, 1, 2, 0, 0, 0}, {1, 3, 1, 1, 0, 0, 0}, {1, 3, 1, 3, 0, 1, 0}, {1, 2, 1, 2, 0, 0, 1},
        {3, 3, 2, 2, 1, 1, 0}, {2, 3, 1, 2, 1, 0, 1}, {1, 4, 1, 3, 0, 2, 1}};
    int[][] sizes = {{2, 3, 1, 17}, {1, 2, 1, 2}, {2, 3, 7, 9}, {3, 1, 5, 3}, {1, 2, 6, 28}};
    for (int[] size : sizes) {
      for (int[] k : windows) {
        if (k[0] > size[2] + 2 * k[4] || k[1] > size[3] + 2 * k[5]) {
          continue;
        }
        Pool2dShape s = new Pool2dShape(size[0], size[1], size[2], size[3], k[0], k[1], k[2], k[3], k[4], k[5], k[6] == 1);
        float[] x = values(r, 5 + size[0] * size[1] * size[2] * size[3], 3);
        int outLen = size[0] * size[1] * s.outHeight() * s.outWidth();
        float[] with = new float[outLen + 6], without = new float[outLen + 6];
        java.util.Arrays.fill(without, 42f);
        System.arraycopy(without, 0, with, 0, with.length);
        ConvKernels.maxPool2dForward(with, 3, new int[outLen], x, 5, s);
        ConvKernels.maxPool2dForward(without, 3, null, x, 5, s);
        String name = java.util.Arrays.toString(size) + " window " + java.util.Arrays.toString(k);
        for (int i = 0; i < with.length; i++) {
          assertEquals(Float.floatToRawIntBits(with[i]), Float.floatToRawIntBits(without[i]), name + ", element " + i);
        }
      }
    }
  }

  @Test
  void batchNormReluPoolingMatchesTheReference() {
    Random r = new Random(2);
    for (int[] size : SIZES) {
      for (int nanEvery : new int[] {3, 1 << 20}) {
        int n = size[0], c = size[1], h = size[2], w = size[3];
        Pool2dShape s = new Pool2dShape(n, c, h, w, 2, 2, 2, 2, 0, 0, false);
        float[] x = values(r, 2 + n * c * h * w, nanEvery);
        float[] mean = new float[c], var = new float[c], weight = new float[c], bias = new float[c];
        for (int ch = 0; ch < c; ch++) {
          mean[ch] = 0.25f * ch;
          var[ch] = 1 + ch;
          weight[ch] = ch % 2 == 0 ? 1.5f : -0.5f; // a negative scale turns -inf into +inf
          bias[ch] = 0.125f;
        }
        float[] y = new float[n * c * h * w];
        NormKernels.batchNormReluForward(y, 0, x, 2, mean, 0, var, 0, weight, 0, bias, 0, n, c, h * w, 1e-5);
        int outLen = n * c * s.outHeight() * s.outWidth();
        float[] out = new float[outLen + 1];
        int[] argmax = new int[outLen];
        NormKernels.batchNormReluMaxPool2x2(out, 1, argmax, x, 2, mean, 0, var, 0, weight, 0, bias, 0, 1e-5, s);
        assertMatchesReference(y, 0, s, out, 1, argmax, true);
      }
    }
  }

  /** Both backwards, the plain 2x2 pooling's and overlapping 3x3 windows with padding: zeros, each gradient added at its maximum. */
  @Test
  void backwardsMatchTheReference() {
    Random r = new Random(3);
    for (int[] size : SIZES) {
      for (boolean overlapping : new boolean[] {false, true}) {
        int n = size[0], c = size[1], h = size[2], w = size[3];
        Pool2dShape s = overlapping
            ? new Pool2dShape(n, c, h, w, 3, 3, 2, 2, 1, 1, false)
            : new Pool2dShape(n, c, h, w, 2, 2, 2, 2, 0, 0, false);
        float[] x = values(r, n * c * h * w, 1 << 20);
        int outLen = n * c * s.outHeight() * s.outWidth();
        float[] out = new float[outLen];
        int[] argmax = new int[outLen];
        ConvKernels.maxPool2dForward(out, 0, argmax, x, 0, s);
        float[] g = values(r, outLen + 4, 6); // NaN, infinite and -0 gradients too
        for (boolean relu : new boolean[] {false, true}) {
          float[] expected = new float[n * c * h * w];
          for (int o = 0; o < outLen; o++) {
            float gi = g[4 + o];
            float mask = out[o] > 0 ? 1f : Float.isNaN(out[o]) ? Float.NaN : 0f;
            expected[o / (s.outHeight() * s.outWidth()) * h * w + argmax[o]] += relu ? gi * mask : gi;
          }
          float[] dx = new float[expected.length + 2];
          java.util.Arrays.fill(dx, 7f); // overwritten
          if (relu) {
            ConvKernels.maxPool2dReluBackward(dx, 2, g, 4, out, 0, argmax, s);
          } else {
            ConvKernels.maxPool2dBackward(dx, 2, g, 4, argmax, s);
          }
          for (int i = 0; i < expected.length; i++) {
            assertEquals(Float.floatToIntBits(expected[i]), Float.floatToIntBits(dx[2 + i]),
                "dx " + i + " of " + s + (relu ? " after a ReLU" : ""));
          }
        }
      }
    }
  }

  /**
   * The plain 2x2 pooling of {@code x} (from {@code xOff}) by the reference, compared with {@code out} (from
   * {@code outOff}) and {@code argmax}: each window's Math.max in row-major order, and the index of its first
   * maximum by {@code >} (the largest before the first NaN, the NaN itself when first) or, with {@code byBits},
   * by the values' raw bits as ints (a ReLU's values: a NaN above all).
   */
  private static void assertMatchesReference(float[] x, int xOff, Pool2dShape s, float[] out, int outOff, int[] argmax,
      boolean byBits) {
    int wd = s.width();
    for (int pl = 0, o = 0; pl < s.batch() * s.channels(); pl++) {
      int plane = xOff + pl * s.height() * wd;
      for (int oh = 0; oh < s.outHeight(); oh++) {
        for (int ow = 0; ow < s.outWidth(); ow++, o++) {
          int i0 = 2 * oh * wd + 2 * ow;
          int[] at = {i0, i0 + 1, i0 + wd, i0 + wd + 1};
          int best = at[0];
          float max = x[plane + at[0]];
          for (int k = 1; k < 4; k++) {
            float v = x[plane + at[k]];
            boolean larger = byBits ? Float.floatToRawIntBits(v) > Float.floatToRawIntBits(x[plane + best]) : v > max;
            best = larger ? at[k] : best;
            max = Math.max(max, v);
          }
          assertEquals(Float.floatToIntBits(max), Float.floatToIntBits(out[outOff + o]), "value " + o + " of " + s);
          assertEquals(best, argmax[o], "argmax " + o + " of " + s);
        }
      }
    }
  }
}
