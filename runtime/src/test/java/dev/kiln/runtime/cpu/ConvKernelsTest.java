package dev.kiln.runtime.cpu;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.util.Arrays;
import java.util.Random;
import org.bytedeco.javacpp.FloatPointer;
import org.junit.jupiter.api.Test;

/**
 * {@link ConvKernels#conv2dForward} and {@link ConvKernels#conv2dBackward} against the textbook loops in double over
 * shapes that take each of its paths (Winograd at batches large enough, im2col with and without the stride's tap table,
 * the direct kernels of few input channels): odd sizes, padding on one axis or wider than the kernel, strides 1 and 2
 * (and one per axis), with and without a bias, batch 1, and each gradient alone, together, and accumulated.
 */
class ConvKernelsTest {
  private final Random random = new Random(11);

  /** batch, inC, H, W, outC, kernel, strideH, strideW, padH, padW, bias (1) or none (0). */
  private static final int[][] CASES = {
      {16, 8, 8, 8, 8, 3, 1, 1, 1, 1, 1}, // Winograd: 16 tiles a sample
      {16, 8, 9, 7, 12, 3, 1, 1, 1, 1, 0}, // Winograd, odd height and width, no bias
      {24, 16, 7, 7, 16, 3, 1, 1, 1, 1, 1}, // Winograd on 7x7 maps (its larger chunks)
      {16, 8, 6, 7, 8, 3, 1, 1, 2, 0, 1}, // Winograd, padding on one axis only
      {1, 8, 8, 8, 8, 3, 1, 1, 1, 1, 1}, // batch 1: im2col
      {1, 8, 5, 5, 4, 3, 1, 1, 3, 3, 0}, // padding wider than the kernel
      {3, 5, 9, 11, 6, 3, 2, 2, 1, 1, 1}, // stride 2, odd sizes: the tap table
      {2, 4, 10, 10, 6, 3, 2, 2, 0, 0, 0}, // stride 2 without padding: taps into the input itself
      {2, 3, 11, 8, 4, 3, 2, 1, 1, 0, 1}, // a stride per axis
      {2, 6, 7, 7, 5, 1, 2, 2, 0, 0, 0}, // 1x1, stride 2 (a shortcut): the subsampled copy
      {3, 5, 9, 8, 7, 1, 2, 2, 0, 0, 1}, // 1x1, stride 2, odd and even sizes, bias
      {1, 4, 10, 11, 3, 1, 3, 2, 0, 0, 1}, // 1x1, a stride per axis, batch 1
      {2, 4, 9, 9, 3, 3, 1, 1, 0, 0, 1}, // stride 1 without padding: im2col's block copies
      {4, 2, 12, 12, 8, 3, 1, 1, 1, 1, 1}, // two input channels: the direct kernels
      {1, 3, 9, 10, 4, 3, 1, 1, 2, 2, 0}, // three, batch 1, padding 2
      {1, 1, 8, 8, 1, 3, 1, 1, 1, 1, 1}, // one channel in and out
  };

  @Test
  void matchesDirectConvolutionOnEveryPath() {
    for (int[] c : CASES) {
      Conv2dShape s = new Conv2dShape(c[0], c[1], c[2], c[3], c[4], c[5], c[5], c[6], c[7], c[8], c[9]);
      checkAgainstDirect(s, c[10] == 1, Arrays.toString(c));
    }
  }

  /**
   * batch, inC, H, W, outC, kernel, strideH, strideW, padH, padW, dilationH, dilationW, groups, bias (1) or none (0): the
   * grouped and dilated kernels ({@link GroupedConv}), depthwise (one input channel per group) or im2col per group.
   */
  private static final int[][] GROUPED_CASES = {
      {2, 6, 9, 9, 6, 3, 1, 1, 1, 1, 1, 1, 6, 1}, // depthwise 3x3, same padding
      {2, 4, 12, 11, 4, 7, 1, 1, 3, 3, 1, 1, 4, 0}, // depthwise 7x7 (ConvNeXt), no bias
      {3, 3, 10, 9, 6, 3, 2, 2, 1, 1, 1, 1, 3, 1}, // depthwise, stride 2, channel multiplier 2
      {2, 5, 13, 12, 5, 5, 2, 2, 2, 2, 1, 1, 5, 0}, // depthwise 5x5, stride 2: phase planes of odd and even sizes
      {2, 4, 8, 8, 4, 3, 2, 2, 0, 0, 1, 1, 4, 1}, // depthwise, stride 2, no padding
      {1, 3, 7, 9, 3, 2, 2, 2, 1, 0, 1, 1, 3, 1}, // depthwise, even kernel, stride 2, padding on one axis
      {2, 2, 3, 5, 2, 7, 2, 2, 3, 3, 1, 1, 2, 0}, // depthwise 7x7, stride 2 over a map smaller than the kernel
      {1, 4, 9, 10, 4, 3, 1, 2, 2, 1, 2, 1, 4, 1}, // depthwise, dilation on one axis, a stride per axis
      {2, 3, 9, 8, 6, 3, 1, 1, 2, 1, 2, 1, 3, 1}, // depthwise, stride 1, multiplier 2, dilated rows, uneven padding
      {3, 2, 5, 6, 2, 5, 1, 1, 0, 4, 1, 2, 2, 0}, // depthwise 5x5, stride 1, no row padding, dilated columns
      // stride 1 over stacked samples (GroupedConv.flatForward): chunks of samples, padding past the kernel's span, batch 1
      {3, 2, 30, 31, 2, 3, 1, 1, 1, 1, 1, 1, 2, 1}, // 3x3 over 30x31: two samples a chunk, the last chunk one
      {5, 3, 6, 7, 3, 7, 1, 1, 3, 3, 1, 1, 3, 1}, // 7x7 on maps smaller than the kernel, five samples in one stack
      {1, 3, 8, 8, 3, 7, 1, 1, 3, 3, 1, 1, 3, 0}, // 7x7 on 8x8 (ConvNeXt's last stage), batch 1
      {2, 2, 5, 6, 4, 3, 1, 1, 3, 2, 1, 1, 2, 1}, // padding past the span: output rows and columns wider than the stride
      {2, 3, 9, 7, 3, 4, 1, 1, 1, 2, 1, 1, 3, 1}, // an even kernel, uneven padding
      {2, 2, 11, 13, 6, 5, 1, 1, 0, 0, 1, 1, 2, 1}, // 5x5 without padding, multiplier 3
      // the stride-1 input gradient as a forward over the output gradient with the kernel flipped (twenty-fourth session)
      {1, 3, 1, 1, 3, 7, 1, 1, 3, 3, 1, 1, 3, 1}, // 7x7 over a 1x1 map, batch 1
      {2, 5, 3, 5, 5, 7, 1, 1, 3, 3, 1, 1, 5, 1}, // 7x7 over 3x5, five channels
      {17, 3, 4, 4, 3, 7, 1, 1, 3, 3, 1, 1, 3, 0}, // 7x7, batch 17: several stacks, the last one sample
      {2, 3, 6, 7, 3, 3, 1, 1, 0, 2, 1, 1, 3, 1}, // no row padding, column padding the whole span: flipped (2, 0)
      {2, 2, 7, 9, 2, 3, 1, 1, 1, 1, 2, 2, 2, 1}, // dilation 2: flipped padding 3
      {2, 8, 7, 8, 12, 3, 1, 1, 1, 1, 1, 1, 4, 1}, // grouped: 2 channels in, 3 out per group
      {2, 6, 11, 9, 4, 3, 2, 1, 0, 2, 1, 1, 2, 0}, // grouped, stride on one axis
      {2, 3, 12, 12, 5, 3, 1, 1, 2, 2, 2, 2, 1, 1}, // dilation 2, one group (atrous)
      {1, 4, 13, 10, 6, 3, 2, 2, 3, 1, 3, 2, 2, 1}, // dilation 3x2, stride 2, two groups
      {2, 4, 1, 17, 8, 1, 1, 1, 0, 0, 1, 1, 4, 1}, // a 1x1 grouped (Conv1d's pointwise group)
      {2, 4, 1, 20, 4, 1, 1, 1, 0, 4, 1, 4, 1, 1}, // 1-d dilation 4 over a [N, C, 1, L] view (kernel 1 x 1 here)
  };

  @Test
  void groupedAndDilatedMatchDirectConvolution() {
    for (int[] c : GROUPED_CASES) {
      Conv2dShape s = new Conv2dShape(c[0], c[1], c[2], c[3], c[4], c[5], c[5], c[6], c[7], c[8], c[9], c[10], c[11], c[12]);
      assertTrue(!Winograd.supports(s) && !FewChannelConv.applies(s));
      checkAgainstDirect(s, c[13] == 1, Arrays.toString(c));
    }
    // a 1 x 5 kernel with dilation 3 along the width, as Conv1d's views run
    checkAgainstDirect(new Conv2dShape(2, 6, 1, 23, 6, 1, 5, 1, 2, 0, 4, 1, 3, 6), true, "1x5 depthwise, dilation 3");
    checkAgainstDirect(new Conv2dShape(2, 6, 1, 23, 4, 1, 5, 1, 1, 0, 6, 1, 3, 2), true, "1x5 grouped, dilation 3");
  }

  private void checkAgainstDirect(Conv2dShape s, boolean hasBias, String name) {
    {
      float[] x = randn(s.batch() * s.inputSampleSize());
      float[] w = randn(s.outChannels() * s.patchSize());
      float[] b = hasBias ? randn(s.outChannels()) : null;
      DirectConvolution direct = new DirectConvolution(s, x, w, hasBias ? b : new float[s.outChannels()]);
      int outLen = s.batch() * s.outChannels() * s.outPlaneSize();

      float[] out = filled(outLen + 4, Float.NaN);
      ConvKernels.conv2dForward(out, 2, x, 0, w, 0, b, 0, s);
      WinogradTest.assertClose(name + " forward", direct.forward(), out, 2);
      assertTrue(Float.isNaN(out[1]) && Float.isNaN(out[outLen + 2]), name + ": wrote outside its output");

      float[] g = randn(outLen);
      direct.backward(g);
      float[] dx = filled(x.length, 99f), dw = filled(w.length, 99f), db = hasBias ? filled(b.length, 99f) : null;
      ConvKernels.conv2dBackward(dx, 0, dw, 0, db, 0, false, g, 0, x, 0, w, 0, s);
      WinogradTest.assertClose(name + " dx", direct.dx, dx, 0);
      WinogradTest.assertClose(name + " dw", direct.dw, dw, 0);
      if (hasBias) {
        WinogradTest.assertClose(name + " dbias", direct.db, db, 0);
      }
      // accumulating the weight's (and bias's) gradient adds one more of each
      ConvKernels.conv2dBackward(null, 0, dw, 0, db, 0, true, g, 0, x, 0, w, 0, s);
      WinogradTest.assertClose(name + " dw accumulated", WinogradTest.twice(direct.dw), dw, 0);
      if (hasBias) {
        WinogradTest.assertClose(name + " dbias accumulated", WinogradTest.twice(direct.db), db, 0);
      }
      // each gradient alone
      float[] dxOnly = filled(x.length, -7f);
      ConvKernels.conv2dBackward(dxOnly, 0, null, 0, null, 0, false, g, 0, x, 0, w, 0, s);
      WinogradTest.assertClose(name + " dx alone", direct.dx, dxOnly, 0);
      float[] dwOnly = new float[w.length];
      ConvKernels.conv2dBackward(null, 0, dwOnly, 0, null, 0, false, g, 0, x, 0, w, 0, s);
      WinogradTest.assertClose(name + " dw alone", direct.dw, dwOnly, 0);
    }
  }

  /** A strided 1x1 convolution's subsampled copy in chunks of samples: the direct convolution's output. */
  @Test
  void subsampledPointwiseChunksMatchTheWholeBatch() {
    Conv2dShape s = new Conv2dShape(5, 6, 9, 8, 7, 1, 1, 2, 2, 0, 0);
    float[] x = randn(s.batch() * s.inputSampleSize()), w = randn(s.outChannels() * s.patchSize()), b = randn(7);
    int outLen = s.batch() * s.outChannels() * s.outPlaneSize();
    float[] chunked = filled(outLen + 2, Float.NaN);
    double[] whole = new DirectConvolution(s, x, w, b).forward();
    ConvKernels.subsampledPointwiseForward(chunked, 1, x, 0, null, w, 0, b, 0, s, 2 * 6 * 5 * 4); // two samples a chunk
    WinogradTest.assertClose("chunks", whole, chunked, 1);
    assertTrue(Float.isNaN(chunked[0]) && Float.isNaN(chunked[outLen + 1]), "wrote outside its output");
  }

  /** The same call twice gives the same bits (the per-thread native copies of filters and sums are reused). */
  @Test
  void repeatsItsBitsAcrossCalls() {
    Conv2dShape s = new Conv2dShape(48, 8, 9, 7, 12, 3, 3, 1, 1, 1, 1); // 48 x 20 tiles: Winograd up to 7 threads
    assertTrue(Winograd.appliesToBackward(s, true));
    float[] x = randn(s.batch() * s.inputSampleSize()), w = randn(s.outChannels() * s.patchSize());
    float[] b = randn(s.outChannels()), g = randn(s.batch() * s.outChannels() * s.outPlaneSize());
    float[][] first = run(s, x, w, b, g), second = run(s, x, w, b, g);
    for (int i = 0; i < first.length; i++) {
      assertArrayEquals(first[i], second[i]);
    }
    // a call of another shape in between (larger filters) leaves no trace either
    Conv2dShape other = new Conv2dShape(16, 16, 8, 8, 24, 3, 3, 1, 1, 1, 1);
    run(other, randn(other.batch() * other.inputSampleSize()), randn(other.outChannels() * other.patchSize()),
        randn(other.outChannels()), randn(other.batch() * other.outChannels() * other.outPlaneSize()));
    float[][] third = run(s, x, w, b, g);
    for (int i = 0; i < first.length; i++) {
      assertArrayEquals(first[i], third[i]);
    }
  }

  /**
   * {@link Blas#sgemm} with A or C native (Winograd's filters staged once a call, a part's weight-gradient sums kept
   * native) gives the bits of the same products staged from arrays each time.
   */
  @Test
  void nativeOperandsGiveTheStagedProductsBits() {
    assumeTrue(Blas.isNative(), "OpenBLAS natives");
    int m = 24, n = 37, k = 19;
    float[] a = randn(5 + m * k), b = randn(n * k), c0 = randn(m * n);
    FloatPointer pa = Blas.toNative(null, a, 0, a.length);
    for (boolean transA : new boolean[] {false, true}) {
      float[] expected = c0.clone(), actual = c0.clone();
      int lda = transA ? m : k;
      Blas.sgemm(transA, false, m, n, k, 1f, a, 5, lda, b, 0, n, 1f, expected, 0, n);
      Blas.sgemm(transA, false, m, n, k, 1f, pa, 5, lda, b, 0, n, 1f, actual, 0, n);
      assertArrayEquals(expected, actual, "A native, transA " + transA);
    }
    // C native over several products (beta 1), copied back once
    float[] expected = c0.clone();
    FloatPointer pc = Blas.toNative(null, c0, 0, c0.length);
    for (int rep = 0; rep < 3; rep++) {
      Blas.sgemm(false, true, m, n, k, 1f, a, 5, k, b, 0, k, 1f, expected, 0, n);
      Blas.sgemm(false, true, m, n, k, 1f, a, 5, k, b, 0, k, 1f, pc, 0, n);
    }
    float[] actual = new float[c0.length];
    pc.get(actual, 0, actual.length);
    assertArrayEquals(expected, actual, "C native");
    assertEquals(c0.length, actual.length);
    pa.close();
    pc.close();
  }

  /**
   * One-row convolutions (conv1d's {@code [N, C, 1, L]} view, with OpenBLAS {@link RowConv}'s native columns) against
   * the direct loops in double, and bit for bit against the same convolution over the transposed map ({@code [N, C, L,
   * 1]}, a k x 1 window), which unfolds the same columns in Java arrays: the output and the weight and bias gradients,
   * alone and together, the weight's accumulated; the input gradient bit for bit only where it is not the convolution
   * with flipped filters (stride 2 or more, padding of k or more, fewer than 32 input channels with k above 1). Several chunks (the 1-d CNN's first layer), strides 1-3, padding 0 to wider
   * than the kernel, kernel 1.
   */
  @Test
  void oneRowConvolutionsMatchTheDirectLoopsAndTheTransposedMapsBits() {
    int[][] cases = { // batch, inC, L, outC, k, stride, pad, bias
        {64, 16, 128, 32, 5, 1, 2, 1}, {3, 4, 17, 5, 3, 2, 1, 0}, {2, 3, 9, 4, 1, 1, 0, 1}, {1, 2, 5, 3, 4, 1, 5, 1},
        {5, 6, 20, 7, 3, 3, 0, 1}, {9, 8, 33, 16, 3, 1, 1, 1}, {7, 32, 40, 16, 3, 1, 1, 1}, {3, 64, 32, 64, 3, 1, 1, 0},
        {2, 32, 11, 5, 4, 1, 0, 1}, {2, 32, 11, 5, 4, 1, 3, 1}, {66, 32, 64, 64, 3, 1, 1, 1},
        {1, 1, 1, 1, 5, 1, 2, 1}, {1, 1, 2, 2, 5, 2, 3, 0}}; // padding wider than the map: offsets reading only padding
    for (int[] c : cases) {
      Conv2dShape s = new Conv2dShape(c[0], c[1], 1, c[2], c[3], 1, c[4], 1, c[5], 0, c[6]);
      Conv2dShape t = new Conv2dShape(c[0], c[1], c[2], 1, c[3], c[4], 1, c[5], 1, c[6], 0);
      String name = Arrays.toString(c);
      float[] x = randn(s.batch() * s.inputSampleSize()), w = randn(s.outChannels() * s.patchSize());
      float[] b = c[7] == 1 ? randn(s.outChannels()) : null;
      DirectConvolution direct = new DirectConvolution(s, x, w, b != null ? b : new float[s.outChannels()]);
      int outLen = s.batch() * s.outChannels() * s.outPlaneSize();
      float[] out = filled(outLen + 4, Float.NaN), expected = filled(outLen + 4, Float.NaN);
      ConvKernels.conv2dForward(out, 2, x, 0, w, 0, b, 0, s);
      ConvKernels.conv2dForward(expected, 2, x, 0, w, 0, b, 0, t);
      WinogradTest.assertClose(name + " forward", direct.forward(), out, 2);
      assertArrayEquals(expected, out, name + " forward, bits");
      float[] g = randn(outLen);
      direct.backward(g);
      float[][] one = gradients(s, x, w, b, g), other = gradients(t, x, w, b, g);
      WinogradTest.assertClose(name + " dx", direct.dx, one[0], 0);
      WinogradTest.assertClose(name + " dw", direct.dw, one[1], 0);
      if (b != null) {
        WinogradTest.assertClose(name + " dbias", direct.db, one[2], 0);
      }
      for (int i = 1; i < one.length; i++) { // the input gradient's own sums at stride 1 (RowConv.inputGradient): not dx
        if (i != 5) {
          assertArrayEquals(other[i], one[i], name + " gradient " + i + ", bits");
        }
      }
      WinogradTest.assertClose(name + " dx alone", direct.dx, one[5], 0);
      if (c[5] > 1 || c[6] >= c[4] || c[1] < RowConv.FLIPPED_MIN_CHANNELS && c[4] > 1) { // no flipped-filter convolution there: the columns' path, the same bits
        assertArrayEquals(other[0], one[0], name + " dx, bits");
      }
    }
  }

  /**
   * 1x1 convolutions with stride 1 and no padding (MobileNet's pointwise layers: {@link RowConv} over the {@code [N, C,
   * 1, H*W]} view) against the direct loops in double, and bit for bit against the Java columns' path ({@link
   * ConvKernels#forwardByProduct} and {@link ConvKernels#backwardByProduct} without a row view): the output, the weight
   * and bias gradients alone, together and accumulated; the input gradient against the loops only (RowConv's product
   * over the transposed weight, whose sums may differ from the columns' {@code W^T dY} in the last bit). Several chunks,
   * batch 1, 32 input channels and fewer.
   */
  @Test
  void pointwiseConvolutionsMatchTheDirectLoopsAndTheColumnsBits() {
    assumeTrue(Blas.isNative(), "the row view needs OpenBLAS");
    int[][] cases = { // batch, inC, H, W, outC, bias
        {16, 32, 32, 32, 64, 0}, {16, 64, 16, 16, 128, 1}, {1, 3, 5, 7, 4, 1}, {5, 40, 7, 7, 24, 0}, {9, 31, 6, 5, 33, 1},
        {70, 8, 4, 4, 16, 1}};
    for (int[] c : cases) {
      Conv2dShape s = new Conv2dShape(c[0], c[1], c[2], c[3], c[4], 1, 1, 1, 1, 0, 0);
      assertTrue(ConvKernels.rowView(s) != null, "a row view");
      String name = "1x1 " + Arrays.toString(c);
      float[] x = randn(s.batch() * s.inputSampleSize()), w = randn(s.outChannels() * s.patchSize());
      float[] b = c[5] == 1 ? randn(s.outChannels()) : null;
      DirectConvolution direct = new DirectConvolution(s, x, w, b != null ? b : new float[s.outChannels()]);
      int outLen = s.batch() * s.outChannels() * s.outPlaneSize();
      float[] out = filled(outLen + 4, Float.NaN), expected = filled(outLen + 4, Float.NaN);
      ConvKernels.conv2dForward(out, 2, x, 0, w, 0, b, 0, s);
      ConvKernels.forwardByProduct(expected, 2, x, 0, w, 0, b, 0, s, null);
      WinogradTest.assertClose(name + " forward", direct.forward(), out, 2);
      assertArrayEquals(expected, out, name + " forward, bits");
      float[] g = randn(outLen);
      direct.backward(g);
      float[][] one = gradients(s, x, w, b, g, ConvKernels::conv2dBackward);
      float[][] columns = gradients(s, x, w, b, g, (dx, dxOff, dw, dwOff, db, dbOff, acc, dout, doutOff, xx, xOff, ww, wOff, t)
          -> ConvKernels.backwardByProduct(dx, dxOff, dw, dwOff, db, dbOff, acc, dout, doutOff, xx, xOff, ww, wOff, t, null));
      WinogradTest.assertClose(name + " dx", direct.dx, one[0], 0);
      WinogradTest.assertClose(name + " dw", direct.dw, one[1], 0);
      if (b != null) {
        WinogradTest.assertClose(name + " dbias", direct.db, one[2], 0);
      }
      WinogradTest.assertClose(name + " dx alone", direct.dx, one[5], 0);
      for (int i = 1; i < one.length; i++) { // dx (0 and 5): RowConv's product over W's transposed copy, not the bits
        if (i != 5) {
          assertArrayEquals(columns[i], one[i], name + " gradient " + i + ", bits");
        }
      }
    }
  }

  /** {@link ConvKernels#conv2dBackward}'s signature, for a path of it. */
  private interface Backward {
    void run(float[] dx, int dxOff, float[] dw, int dwOff, float[] dbias, int dbOff, boolean accumulate,
        float[] dout, int doutOff, float[] x, int xOff, float[] w, int wOff, Conv2dShape s);
  }

  private static float[][] gradients(Conv2dShape s, float[] x, float[] w, float[] b, float[] g) {
    return gradients(s, x, w, b, g, ConvKernels::conv2dBackward);
  }

  /** dx, dw, db together; then dw and db accumulated; then each alone: every array the kernels wrote. */
  private static float[][] gradients(Conv2dShape s, float[] x, float[] w, float[] b, float[] g, Backward backward) {
    float[] dx = filled(x.length, 99f), dw = filled(w.length, 99f), db = b == null ? null : filled(b.length, 99f);
    backward.run(dx, 0, dw, 0, db, 0, false, g, 0, x, 0, w, 0, s);
    float[] dwTwice = dw.clone(), dbTwice = db == null ? new float[0] : db.clone();
    backward.run(null, 0, dwTwice, 0, db == null ? null : dbTwice, 0, true, g, 0, x, 0, w, 0, s);
    float[] dxAlone = filled(x.length, -7f), dwAlone = new float[w.length];
    backward.run(dxAlone, 0, null, 0, null, 0, false, g, 0, x, 0, w, 0, s);
    backward.run(null, 0, dwAlone, 0, null, 0, false, g, 0, x, 0, w, 0, s);
    return new float[][] {dx, dw, db == null ? new float[0] : db, dwTwice, dbTwice, dxAlone, dwAlone};
  }

  private static float[][] run(Conv2dShape s, float[] x, float[] w, float[] b, float[] g) {
    float[] out = new float[g.length], dx = new float[x.length], dw = new float[w.length], db = new float[b.length];
    ConvKernels.conv2dForward(out, 0, x, 0, w, 0, b, 0, s);
    ConvKernels.conv2dBackward(dx, 0, dw, 0, db, 0, false, g, 0, x, 0, w, 0, s);
    return new float[][] {out, dx, dw, db};
  }

  private float[] randn(int n) {
    float[] a = new float[n];
    for (int i = 0; i < n; i++) {
      a[i] = (float) random.nextGaussian();
    }
    return a;
  }

  private static float[] filled(int n, float v) {
    float[] a = new float[n];
    Arrays.fill(a, v);
    return a;
  }
}
