package dev.kiln.runtime;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kiln.runtime.cpu.Conv2dShape;
import dev.kiln.runtime.cpu.ConvKernels;
import dev.kiln.runtime.cpu.CpuKernels;
import dev.kiln.runtime.cpu.DirectConvolution;
import dev.kiln.runtime.cpu.Pool2dShape;
import java.util.Arrays;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** conv2d and max_pool2d: published reference values, a direct double-precision convolution, gradients and errors. */
class ConvOpsTest {
  private static final double EPS = 1e-2;
  private static final double ATOL = 2e-3;
  private static final double RTOL = 2e-3;

  /** The 5x5 input and 3x3 kernel of the PyTorch tutorial on convolution and pooling. */
  private static final Tensor TUTORIAL_INPUT = Tensor.of(new float[] {
      1, 2, 0, 3, 1,
      0, 1, 2, 3, 1,
      1, 2, 1, 0, 0,
      5, 2, 3, 1, 1,
      2, 1, 0, 1, 1}, 1, 1, 5, 5);
  private static final Tensor TUTORIAL_KERNEL = Tensor.of(new float[] {
      1, 2, 1,
      0, 1, 0,
      2, 1, 0}, 1, 1, 3, 3);

  @BeforeEach
  void seed() {
    Kiln.manualSeed(42);
  }

  private static Tensor param(int... shape) {
    return Tensor.randn(shape).requiresGrad(true);
  }

  /** Values {@code 0.1 * (a permutation of 0..n-1)}: distinct and 0.1 apart, so every window has one clear maximum. */
  private static Tensor distinct(int... shape) {
    int n = Shapes.numel(shape);
    float[] d = new float[n];
    for (int i = 0; i < n; i++) {
      d[i] = 0.1f * i;
    }
    var rng = Kiln.generator();
    for (int i = n - 1; i > 0; i--) {
      int j = rng.nextInt(i + 1);
      float t = d[i];
      d[i] = d[j];
      d[j] = t;
    }
    return Tensor.of(d, shape).requiresGrad(true);
  }

  // ------------------------------------------------------------------ reference values

  @Test
  void tutorialConvolutionStrideAndPadding() {
    assertArrayEquals(new float[] {10, 12, 12, 18, 16, 16, 13, 9, 3},
        Ops.conv2d(TUTORIAL_INPUT, TUTORIAL_KERNEL, null, 1, 1, 0, 0).toFloatArray());
    assertArrayEquals(new float[] {10, 12, 13, 3},
        Ops.conv2d(TUTORIAL_INPUT, TUTORIAL_KERNEL, null, 2, 2, 0, 0).toFloatArray());
    Tensor padded = Ops.conv2d(TUTORIAL_INPUT, TUTORIAL_KERNEL, null, 1, 1, 1, 1);
    assertArrayEquals(new int[] {1, 1, 5, 5}, padded.shape());
    assertArrayEquals(new float[] {
        1, 3, 4, 10, 8,
        5, 10, 12, 12, 6,
        7, 18, 16, 16, 8,
        11, 13, 9, 3, 4,
        14, 13, 9, 7, 4}, padded.toFloatArray());
  }

  @Test
  void tutorialMaxPoolCeilAndFloor() {
    Tensor ceil = Ops.maxPool2d(TUTORIAL_INPUT, 3, 3, 3, 3, 0, 0, true);
    assertArrayEquals(new int[] {1, 1, 2, 2}, ceil.shape());
    assertArrayEquals(new float[] {2, 3, 5, 1}, ceil.toFloatArray());
    Tensor floor = Ops.maxPool2d(TUTORIAL_INPUT, 3, 3, 3, 3, 0, 0, false);
    assertArrayEquals(new int[] {1, 1, 1, 1}, floor.shape());
    assertArrayEquals(new float[] {2}, floor.toFloatArray());
  }

  @Test
  void emptyBatchGivesAnEmptyOutputAndZeroWeightGradients() {
    // PyTorch: F.conv2d(torch.zeros(0, 2, 5, 5), w, b, padding=1) has shape [0, 3, 5, 5]; its backward gives zero w and b grads
    Tensor x = Tensor.zeros(0, 2, 5, 5).requiresGrad(true);
    Tensor w = Tensor.randn(3, 2, 3, 3).requiresGrad(true);
    Tensor b = Tensor.randn(3).requiresGrad(true);
    Tensor y = Ops.conv2d(x, w, b, 1, 1, 1, 1);
    assertArrayEquals(new int[] {0, 3, 5, 5}, y.shape());
    Ops.sum(y).backward();
    assertArrayEquals(new int[] {0, 2, 5, 5}, x.grad().shape());
    assertArrayEquals(new float[w.numel()], w.grad().toFloatArray());
    assertArrayEquals(new float[3], b.grad().toFloatArray());
  }

  @Test
  void biasIsAddedPerOutputChannel() {
    Tensor w = Tensor.of(new float[] {1, 2, 1, 0, 1, 0, 2, 1, 0, 1, 2, 1, 0, 1, 0, 2, 1, 0}, 2, 1, 3, 3);
    Tensor y = Ops.conv2d(TUTORIAL_INPUT, w, Tensor.of(new float[] {0.5f, -1f}, 2), 2, 2, 0, 0);
    assertArrayEquals(new float[] {10.5f, 12.5f, 13.5f, 3.5f, 9, 11, 12, 2}, y.toFloatArray());
  }

  // ------------------------------------------------------------------ against a direct convolution

  @Test
  void matchesDirectConvolutionForStridesAndPaddings() {
    int[][] cases = { // batch, inC, H, W, outC, kH, kW, sH, sW, pH, pW
        {2, 3, 7, 7, 4, 3, 3, 1, 1, 0, 0},
        {2, 3, 7, 6, 4, 3, 3, 2, 2, 1, 1},
        {1, 2, 9, 5, 3, 3, 2, 2, 1, 2, 0},
        {3, 1, 6, 8, 5, 1, 1, 3, 2, 0, 1},
        {2, 4, 5, 5, 2, 5, 5, 1, 1, 2, 2},
        {1, 2, 4, 4, 3, 4, 4, 1, 1, 0, 0},
        {2, 3, 6, 9, 2, 3, 5, 1, 1, 0, 2}, // as wide as the input, not as high: the block-copy im2col
        {2, 2, 2, 6, 3, 5, 5, 1, 1, 2, 2}, // same width, some kernel rows never inside the input
        {1, 2, 5, 7, 2, 3, 7, 1, 1, 1, 3}, // same width, wrapped columns on both sides, more than one
        {1, 1, 1, 1, 1, 5, 5, 1, 1, 2, 2}, // "same" padding wider than the map: kernel columns only in padding
        {1, 1, 1, 1, 1, 1, 5, 1, 1, 0, 2},
        {1, 2, 2, 2, 2, 7, 7, 1, 1, 3, 3},
        {2, 2, 5, 1, 3, 7, 7, 1, 1, 3, 3},
        // 18 * 4096 im2col floats per sample: the batch is unfolded in more than one chunk
        {60, 2, 64, 64, 3, 3, 3, 1, 1, 1, 1}};
    for (int[] c : cases) {
      Conv2dShape s = new Conv2dShape(c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7], c[8], c[9], c[10]);
      String name = Arrays.toString(c);
      Tensor x = Tensor.randn(c[0], c[1], c[2], c[3]).requiresGrad(true);
      Tensor w = Tensor.randn(c[4], c[1], c[5], c[6]).requiresGrad(true);
      Tensor b = Tensor.randn(c[4]).requiresGrad(true);
      Tensor y = Ops.conv2d(x, w, b, c[7], c[8], c[9], c[10]);
      DirectConvolution direct = new DirectConvolution(s, x.toFloatArray(), w.toFloatArray(), b.toFloatArray());
      assertArrayEquals(new int[] {c[0], c[4], s.outHeight(), s.outWidth()}, y.shape(), name);
      assertClose(name + " forward", direct.forward(), y.toFloatArray());

      Tensor g = Tensor.randn(y.shape());
      y.backward(g);
      direct.backward(g.toFloatArray());
      assertClose(name + " dx", direct.dx, x.grad().toFloatArray());
      assertClose(name + " dw", direct.dw, w.grad().toFloatArray());
      assertClose(name + " dbias", direct.db, b.grad().toFloatArray());
    }
  }

  /** Every "same" convolution (odd kernel, stride 1) of a small map, where padding can be wider than the map. */
  @Test
  void sameConvolutionsOfMapsSmallerThanTheKernel() {
    for (int k = 1; k <= 7; k += 2) {
      for (int h = 1; h <= 3; h++) {
        for (int w = 1; w <= 3; w++) {
          Conv2dShape s = new Conv2dShape(2, 2, h, w, 3, k, k, 1, 1, k / 2, k / 2);
          String name = "kernel " + k + " on " + h + "x" + w;
          Tensor x = Tensor.randn(2, 2, h, w).requiresGrad(true);
          Tensor wt = Tensor.randn(3, 2, k, k).requiresGrad(true);
          Tensor y = Ops.conv2d(x, wt, null, 1, 1, k / 2, k / 2);
          DirectConvolution direct = new DirectConvolution(s, x.toFloatArray(), wt.toFloatArray(), new float[3]);
          assertClose(name + " forward", direct.forward(), y.toFloatArray());
          Tensor g = Tensor.randn(y.shape());
          y.backward(g);
          direct.backward(g.toFloatArray());
          assertClose(name + " dx", direct.dx, x.grad().toFloatArray());
          assertClose(name + " dw", direct.dw, wt.grad().toFloatArray());
        }
      }
    }
  }

  private static void assertClose(String what, double[] expected, float[] actual) {
    assertEquals(expected.length, actual.length, what);
    for (int i = 0; i < expected.length; i++) {
      double tol = 1e-4 * (1 + Math.abs(expected[i]));
      if (Math.abs(expected[i] - actual[i]) > tol) {
        throw new AssertionError(what + " [" + i + "]: expected " + expected[i] + ", got " + actual[i]);
      }
    }
  }

  // ------------------------------------------------------------------ gradients

  @Test
  void conv2dGradientWithAndWithoutBias() {
    GradCheck.check("conv2d", in -> Ops.conv2d(in[0], in[1], in[2], 1, 1, 0, 0), EPS, ATOL, RTOL,
        param(2, 3, 5, 5), param(4, 3, 3, 3), param(4));
    GradCheck.check("conv2d no bias", in -> Ops.conv2d(in[0], in[1], null, 1, 1, 0, 0), EPS, ATOL, RTOL,
        param(2, 2, 4, 4), param(3, 2, 2, 2));
  }

  @Test
  void conv2dGradientStridePaddingNonSquare() {
    GradCheck.check("conv2d stride 2 pad 1", in -> Ops.conv2d(in[0], in[1], in[2], 2, 2, 1, 1), EPS, ATOL, RTOL,
        param(2, 3, 6, 5), param(4, 3, 3, 3), param(4));
    GradCheck.check("conv2d mixed", in -> Ops.conv2d(in[0], in[1], in[2], 2, 1, 0, 1), EPS, ATOL, RTOL,
        param(1, 2, 7, 4), param(3, 2, 3, 2), param(3));
  }

  @Test
  void conv2dGradientOnlyForWeight() {
    Tensor x = Tensor.randn(2, 2, 5, 5);
    GradCheck.check("conv2d x const", in -> Ops.conv2d(in[0], in[1], in[2], 1, 1, 1, 1), EPS, ATOL, RTOL,
        x, param(3, 2, 3, 3), Tensor.randn(3));
    assertEquals(null, x.grad());
  }

  @Test
  void maxPool2dGradient() {
    GradCheck.check("max_pool2d 2", in -> Ops.maxPool2d(in[0], 2, 2, 2, 2, 0, 0, false), EPS, ATOL, RTOL,
        distinct(2, 3, 6, 4));
    GradCheck.check("max_pool2d overlapping", in -> Ops.maxPool2d(in[0], 3, 3, 1, 2, 0, 0, false), EPS, ATOL, RTOL,
        distinct(1, 2, 5, 6));
  }

  @Test
  void maxPool2dGradientCeilModeAndPadding() {
    GradCheck.check("max_pool2d ceil", in -> Ops.maxPool2d(in[0], 2, 2, 2, 2, 0, 0, true), EPS, ATOL, RTOL,
        distinct(2, 2, 5, 7));
    GradCheck.check("max_pool2d pad", in -> Ops.maxPool2d(in[0], 3, 3, 2, 2, 1, 1, false), EPS, ATOL, RTOL,
        distinct(1, 2, 6, 5));
    GradCheck.check("max_pool2d ceil pad", in -> Ops.maxPool2d(in[0], 3, 2, 2, 2, 1, 1, true), EPS, ATOL, RTOL,
        distinct(1, 2, 6, 5));
  }

  @Test
  void maxPoolPaddingCountsAsMinusInfinity() {
    Tensor negative = Tensor.of(new float[] {-4, -3, -2, -1}, 1, 1, 2, 2);
    Tensor y = Ops.maxPool2d(negative, 2, 2, 1, 1, 1, 1, false);
    assertArrayEquals(new float[] {-4, -3, -3, -2, -1, -1, -2, -1, -1}, y.toFloatArray());
  }

  @Test
  void maxPoolPropagatesNaN() {
    Tensor x = Tensor.of(new float[] {1, Float.NaN, 3, 2}, 1, 1, 2, 2);
    assertTrue(Float.isNaN(Ops.maxPool2d(x, 2, 2, 2, 2, 0, 0, false).item()));
  }

  @Test
  void maxPoolOutputSizesFollowPyTorch() {
    // 7 with kernel 2: floor 3, ceil 4 (the last window covers the seventh element alone).
    assertEquals(3, Pool2dShape.outSize(7, 2, 2, 0, false));
    assertEquals(4, Pool2dShape.outSize(7, 2, 2, 0, true));
    // 5 with kernel 2, padding 1: rounding up would add a window starting in the right padding, so it is dropped.
    assertEquals(3, Pool2dShape.outSize(5, 2, 2, 1, false));
    assertEquals(3, Pool2dShape.outSize(5, 2, 2, 1, true));
    // 6 with kernel 3, stride 2, padding 1: the fourth window starts at the last element and is kept.
    assertEquals(3, Pool2dShape.outSize(6, 3, 2, 1, false));
    assertEquals(4, Pool2dShape.outSize(6, 3, 2, 1, true));
  }

  // ------------------------------------------------------------------ kernel conventions

  @Test
  void backwardKernelsOverwriteOrAccumulateAsDocumented() {
    Conv2dShape s = new Conv2dShape(2, 2, 5, 4, 3, 3, 2, 1, 2, 1, 0);
    float[] x = Tensor.randn(2, 2, 5, 4).toFloatArray();
    float[] w = Tensor.randn(3, 2, 3, 2).toFloatArray();
    float[] dout = Tensor.randn(2, 3, s.outHeight(), s.outWidth()).toFloatArray();
    float[] dx = new float[x.length], dw = new float[w.length], db = new float[3];
    ConvKernels.conv2dBackward(dx, 0, dw, 0, db, 0, false, dout, 0, x, 0, w, 0, s);

    float[] dx2 = filled(x.length, 7f), dw2 = filled(w.length, 1f), db2 = filled(3, 1f);
    ConvKernels.conv2dBackward(dx2, 0, dw2, 0, db2, 0, true, dout, 0, x, 0, w, 0, s);
    assertArrayEquals(dx, dx2, "dx is overwritten even when accumulating");
    assertArrayEquals(plusOne(dw), dw2, 1e-5f);
    assertArrayEquals(plusOne(db), db2, 1e-5f);

    float[] dw3 = filled(w.length, 5f);
    ConvKernels.conv2dBackward(null, 0, dw3, 0, null, 0, false, dout, 0, x, 0, w, 0, s);
    assertArrayEquals(dw, dw3, "dw is overwritten without accumulate");
  }

  @Test
  void kernelsHonourOffsets() {
    Conv2dShape s = new Conv2dShape(1, 1, 5, 5, 1, 3, 3, 1, 1, 0, 0);
    float[] x = new float[30], w = new float[11], out = new float[12];
    System.arraycopy(TUTORIAL_INPUT.toFloatArray(), 0, x, 5, 25);
    System.arraycopy(TUTORIAL_KERNEL.toFloatArray(), 0, w, 2, 9);
    ConvKernels.conv2dForward(out, 3, x, 5, w, 2, null, 0, s);
    assertArrayEquals(new float[] {0, 0, 0, 10, 12, 12, 18, 16, 16, 13, 9, 3}, out);

    Pool2dShape p = new Pool2dShape(1, 1, 5, 5, 3, 3, 3, 3, 0, 0, true);
    float[] pooled = new float[5];
    int[] argmax = new int[4];
    ConvKernels.maxPool2dForward(pooled, 1, argmax, x, 5, p);
    assertArrayEquals(new float[] {0, 2, 3, 5, 1}, pooled);
    float[] dx = filled(27, 9f);
    ConvKernels.maxPool2dBackward(dx, 2, new float[] {0, 1, 2, 3, 4}, 1, argmax, p);
    float[] expected = new float[27];
    expected[0] = expected[1] = 9f;
    expected[2 + argmax[0]] = 1;
    expected[2 + argmax[1]] = 2;
    expected[2 + argmax[2]] = 3;
    expected[2 + argmax[3]] = 4;
    assertArrayEquals(expected, dx);
  }

  private static float[] filled(int n, float v) {
    float[] a = new float[n];
    Arrays.fill(a, v);
    return a;
  }

  private static float[] plusOne(float[] a) {
    float[] out = a.clone();
    for (int i = 0; i < out.length; i++) {
      out[i] += 1f;
    }
    return out;
  }

  // ------------------------------------------------------------------ errors

  @Test
  void conv2dShapeErrorsNameBothShapes() {
    var e = assertThrows(IllegalArgumentException.class,
        () -> Ops.conv2d(Tensor.zeros(64, 3, 28, 28), Tensor.zeros(32, 1, 3, 3), null, 1, 1, 0, 0));
    assertEquals("conv2d: input [64, 3, 28, 28] has 3 channels, weight [32, 1, 3, 3] expects 1", e.getMessage());
    e = assertThrows(IllegalArgumentException.class,
        () -> Ops.conv2d(Tensor.zeros(1, 1, 2, 2), Tensor.zeros(4, 1, 3, 3), null, 1, 1, 0, 0));
    assertEquals("conv2d: input [1, 1, 2, 2], weight [4, 1, 3, 3]: the 3x3 kernel is larger than the padded input 2x2"
        + " (2x2 with padding (0, 0)), so the output would be empty", e.getMessage());
    e = assertThrows(IllegalArgumentException.class,
        () -> Ops.conv2d(Tensor.zeros(1, 1, 4, 4), Tensor.zeros(4, 1, 3, 3), Tensor.zeros(3), 1, 1, 0, 0));
    assertTrue(e.getMessage().contains("bias [3]") && e.getMessage().contains("[4, 1, 3, 3]"), e.getMessage());
    e = assertThrows(IllegalArgumentException.class,
        () -> Ops.conv2d(Tensor.zeros(4, 4), Tensor.zeros(4, 1, 3, 3), null, 1, 1, 0, 0));
    assertEquals("conv2d: input must be [N, C, H, W], or [C, H, W] for one sample, got shape [4, 4]", e.getMessage());
    e = assertThrows(IllegalArgumentException.class,
        () -> Ops.conv2d(Tensor.zeros(1, 1, 4, 4), Tensor.zeros(4, 1, 3, 3), null, 0, 1, -1, 0));
    assertTrue(e.getMessage().contains("stride (0, 1)") && e.getMessage().contains("padding (-1, 0)"), e.getMessage());
  }

  @Test
  void maxPool2dErrors() {
    var e = assertThrows(IllegalArgumentException.class,
        () -> Ops.maxPool2d(Tensor.zeros(1, 1, 8, 8), 3, 3, 1, 1, 2, 2, false));
    assertEquals("max_pool2d: input [1, 1, 8, 8]: padding (2, 2) must be at most half of kernel_size (3, 3)", e.getMessage());
    e = assertThrows(IllegalArgumentException.class,
        () -> Ops.maxPool2d(Tensor.zeros(2, 3, 2, 2), 3, 3, 3, 3, 0, 0, false));
    assertEquals("max_pool2d: input [2, 3, 2, 2]: the 3x3 window is larger than the padded input 2x2"
        + " (2x2 with padding (0, 0)), so the output would be empty", e.getMessage());
    e = assertThrows(IllegalArgumentException.class, () -> Ops.maxPool2d(Tensor.zeros(4, 4), 2, 2, 2, 2, 0, 0, false));
    assertEquals("max_pool2d: input must be [N, C, H, W], or [C, H, W] for one sample, got shape [4, 4]", e.getMessage());
  }

  /** One sample [C, H, W], as PyTorch 1.13 takes it: the batch of one's values and gradients, without the batch. */
  @Test
  void unbatchedInputIsOneSampleOfABatch() {
    Tensor x = Tensor.randn(2, 5, 6);
    Tensor w = Tensor.randn(3, 2, 3, 3).requiresGrad(true);
    Tensor one = x.requiresGrad(true);
    Tensor y = Ops.maxPool2d(Ops.conv2d(one, w, null, 1, 1, 1, 1), 2, 2, 2, 2, 0, 0, true);
    assertArrayEquals(new int[] {3, 3, 3}, y.shape());
    Tensor g = Tensor.randn(3, 3, 3);
    y.backward(g);
    Tensor xb = Tensor.of(x.toFloatArray(), 1, 2, 5, 6).requiresGrad(true);
    Tensor wb = Tensor.of(w.toFloatArray(), 3, 2, 3, 3).requiresGrad(true);
    Tensor yb = Ops.maxPool2d(Ops.conv2d(xb, wb, null, 1, 1, 1, 1), 2, 2, 2, 2, 0, 0, true);
    yb.backward(Tensor.of(g.toFloatArray(), 1, 3, 3, 3));
    assertArrayEquals(yb.toFloatArray(), y.toFloatArray());
    assertArrayEquals(xb.grad().toFloatArray(), one.grad().toFloatArray());
    assertArrayEquals(wb.grad().toFloatArray(), w.grad().toFloatArray());
  }

  /** The 2x2 stride-2 fast path against a naive max and argmax (routing of the gradient), odd width included. */
  /**
   * maxPool2dReluBackward (the ReLU's mask applied at the pooled values) equals the pooling's
   * gradient followed by the ReLU's, for the 2x2 path and an overlapping 3x3 stride-2 window
   * with padding, on a ReLU output with many zeros (whole windows of them, so ties at 0 too).
   */
  @Test
  void poolingBackwardWithTheReluMaskMatchesPoolThenRelu() {
    Kiln.manualSeed(5);
    int[][] windows = {{2, 2, 0}, {3, 2, 1}}; // kernel, stride, padding
    for (int[] win : windows) {
      Pool2dShape s = new Pool2dShape(4, 3, 12, 10, win[0], win[0], win[1], win[1], win[2], win[2], false);
      float[] z = Tensor.randn(4, 3, 12, 10).toFloatArray();
      float[] y = new float[z.length];
      for (int i = 0; i < z.length; i++) {
        y[i] = Math.max(z[i] - 1.2f, 0f); // ~88% zeros: many windows all zero
      }
      int outSize = 4 * 3 * s.outHeight() * s.outWidth();
      float[] pooled = new float[outSize];
      int[] argmax = new int[outSize];
      ConvKernels.maxPool2dForward(pooled, 0, argmax, y, 0, s);
      float[] g = Tensor.randn(outSize).toFloatArray();
      float[] expected = new float[z.length];
      ConvKernels.maxPool2dBackward(expected, 0, g, 0, argmax, s);
      CpuKernels.reluBackward(expected, 0, expected, 0, y, 0, z.length);
      float[] actual = new float[z.length];
      ConvKernels.maxPool2dReluBackward(actual, 0, g, 0, pooled, 0, argmax, s);
      int masked = 0;
      for (float v : pooled) {
        masked += v == 0f ? 1 : 0;
      }
      assertTrue(masked > outSize / 10, "some pooled values are 0: " + masked);
      assertArrayEquals(expected, actual, 0f, Arrays.toString(win));
    }
  }

  @Test
  void twoByTwoPoolingMatchesANaiveMax() {
    Kiln.manualSeed(21);
    int n = 2, c = 3, h = 8, w = 9;
    Tensor x = Tensor.randn(n, c, h, w).requiresGrad(true);
    Tensor y = Ops.maxPool2d(x, 2, 2, 2, 2, 0, 0, false);
    float[] xv = x.toFloatArray();
    float[] yv = y.toFloatArray();
    float[] expectedGrad = new float[xv.length];
    int oh = h / 2, ow = w / 2;
    for (int p = 0; p < n * c; p++) {
      for (int i = 0; i < oh; i++) {
        for (int j = 0; j < ow; j++) {
          int best = -1;
          float max = Float.NEGATIVE_INFINITY;
          for (int a = 0; a < 2; a++) {
            for (int b = 0; b < 2; b++) {
              int idx = p * h * w + (2 * i + a) * w + 2 * j + b;
              if (xv[idx] > max) {
                max = xv[idx];
                best = idx;
              }
            }
          }
          assertEquals(max, yv[(p * oh + i) * ow + j], "max at plane " + p + " (" + i + ", " + j + ")");
          expectedGrad[best] += 1f;
        }
      }
    }
    Ops.sum(y).backward();
    assertArrayEquals(expectedGrad, x.grad().toFloatArray());
  }
}
