package dev.kiln.runtime;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;

import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Eager inference's convolutions that read an evaluation batch norm (and ReLU) not computed yet through its factors
 * ({@code ChannelAffine}: the depthwise kernels at stride 1 and 2, the pointwise products): the same bits as the map
 * written out first, the batch norm's map left unwritten until something reads it, and the other convolutions
 * reading it as before. Odd sizes, batch 1, a channel multiplier, with and without the ReLU and the affine parameters.
 */
class EagerConvReadThroughTest {
  @BeforeEach
  void setUp() {
    ArrayPool.clear();
    Kiln.manualSeed(11);
  }

  /**
   * conv(bn(..)) under no grad, through the factors and from the map written out: equal bits. {@code shape} the batch
   * norm's input, {@code weight} the second convolution's.
   */
  private void check(int[] shape, boolean relu, boolean affine, int[] weight, int stride, int pad, int groups, boolean bias,
      boolean readThrough) {
    int c = shape[1];
    Tensor source = Tensor.randn(shape);
    Tensor rm = Tensor.randn(c), rv = Tensor.rand(c).add(Tensor.full(0.5f, c));
    Tensor gamma = affine ? Tensor.randn(c) : null, beta = affine ? Tensor.randn(c) : null;
    Tensor w = Tensor.randn(weight), b = bias ? Tensor.randn(weight[0]) : null;
    try (var g = Kiln.noGrad()) {
      Tensor conv = Ops.conv2d(source, Tensor.ones(c, 1, 1, 1), null, 1, 1, 0, 0, 1, 1, c); // a convolution's own (sealed) output
      Tensor n = Ops.batchNorm(conv, rm, rv, gamma, beta, false, 0.1, 1e-5);
      Tensor mapped = relu ? Ops.relu(n) : n;
      Tensor fused = Ops.conv2d(mapped, w, b, stride, stride, pad, pad, 1, 1, groups);
      String name = java.util.Arrays.toString(shape) + " -> " + java.util.Arrays.toString(weight) + " stride " + stride;
      if (readThrough) {
        assertNotNull(mapped.pendingValues(), name + ": the batch norm's map was written");
      } else {
        assertNull(mapped.pendingValues(), name + ": read as before");
      }
      float[] values = mapped.toFloatArray();
      float[] expected = Ops.conv2d(Tensor.of(values, shape), w, b, stride, stride, pad, pad, 1, 1, groups).toFloatArray();
      assertArrayEquals(expected, fused.toFloatArray(), name);
      Tensor again = relu ? Ops.relu(Ops.batchNorm(conv, rm, rv, gamma, beta, false, 0.1, 1e-5))
          : Ops.batchNorm(conv, rm, rv, gamma, beta, false, 0.1, 1e-5);
      assertArrayEquals(again.toFloatArray(), values, name + ": the map read afterwards");
    }
  }

  @Test
  void depthwiseAtStrideOneReadsTheBatchNormThrough() {
    check(new int[] {3, 6, 9, 11}, true, true, new int[] {6, 1, 3, 3}, 1, 1, 6, true, true);
    check(new int[] {2, 4, 7, 8}, false, true, new int[] {4, 1, 5, 5}, 1, 2, 4, false, true); // batch norm alone
    check(new int[] {1, 3, 8, 8}, true, false, new int[] {6, 1, 7, 7}, 1, 3, 3, true, true); // multiplier 2, no affine
  }

  @Test
  void depthwiseAtStrideTwoReadsTheBatchNormThrough() {
    check(new int[] {1, 5, 13, 10}, true, true, new int[] {5, 1, 3, 3}, 2, 1, 5, false, true);
    check(new int[] {3, 4, 8, 9}, false, false, new int[] {4, 1, 3, 3}, 2, 1, 4, true, true);
  }

  @Test
  void pointwiseReadsTheBatchNormThrough() {
    boolean rows = dev.kiln.runtime.cpu.Blas.isNative(); // the pure-Java product keeps its Java columns
    check(new int[] {2, 7, 9, 5}, true, true, new int[] {11, 7, 1, 1}, 1, 0, 1, true, rows);
    check(new int[] {1, 33, 3, 3}, false, false, new int[] {5, 33, 1, 1}, 1, 0, 1, false, rows);
    check(new int[] {3, 6, 9, 8}, true, true, new int[] {10, 6, 1, 1}, 2, 0, 1, true, rows); // stride 2: the subsampled copy
    check(new int[] {4, 16, 32, 31}, true, true, new int[] {24, 16, 1, 1}, 2, 0, 1, true, rows);
  }

  /** Maps large enough to be split over the threads ({@code -Dkiln.threads=3}: each part maps the planes it copies). */
  @Test
  void largerMapsSplitOverThreads() {
    check(new int[] {4, 16, 32, 31}, true, true, new int[] {16, 1, 3, 3}, 1, 1, 16, true, true);
    check(new int[] {4, 16, 32, 31}, true, true, new int[] {16, 1, 3, 3}, 2, 1, 16, true, true);
    check(new int[] {4, 16, 32, 31}, true, true, new int[] {24, 16, 1, 1}, 1, 0, 1, true, dev.kiln.runtime.cpu.Blas.isNative());
  }

  @Test
  void otherConvolutionsReadTheMapAsBefore() {
    check(new int[] {2, 4, 9, 9}, true, true, new int[] {6, 4, 3, 3}, 1, 1, 1, true, false); // a plain 3x3
    check(new int[] {2, 4, 9, 9}, true, true, new int[] {4, 1, 3, 3}, 3, 1, 4, true, false); // depthwise, stride 3
    check(new int[] {2, 4, 9, 9}, true, true, new int[] {8, 2, 1, 1}, 1, 0, 2, true, false); // grouped 1x1
  }
}
