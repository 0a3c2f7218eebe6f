package dev.kiln.dsl;

import dev.kiln.runtime.Shapes;
import dev.kiln.runtime.cpu.Pool2dShape;

/** The shape rules max and average pooling share: a square window over {@code [N, C, H, W]}, a window over {@code [N, C, L]}. */
final class PoolingShapes {
  private PoolingShapes() {}

  /**
   * {@code [N, C, outH, outW]} for a {@code kernel x kernel} window every {@code stride}, with
   * {@code padding} and ceil mode as PyTorch's pooling layers.
   *
   * @throws ShapeException naming {@code layer} (its repr) and the shape received
   */
  static int[] outputShape(LayerSpec layer, int[] in, int kernel, int stride, int padding, boolean ceilMode) {
    if (in.length != 4) {
      throw new ShapeException(layer + " expects [N, C, H, W], receives " + Shapes.toString(in));
    }
    int outH = Pool2dShape.outSize(in[2], kernel, stride, padding, ceilMode);
    int outW = Pool2dShape.outSize(in[3], kernel, stride, padding, ceilMode);
    if (outH < 1 || outW < 1) {
      throw new ShapeException(
          layer + " expects an input of at least " + kernel + "x" + kernel + " after padding, receives " + Shapes.toString(in));
    }
    return new int[] {in[0], in[1], outH, outW};
  }

  /**
   * Checks a 1-d pooling window on its own: kernel and stride at least 1, padding between 0 and half the kernel.
   *
   * @throws IllegalArgumentException naming {@code layer} (its class) and the values
   */
  static void checkWindow1d(String layer, int kernel, int stride, int padding) {
    if (kernel <= 0 || stride <= 0 || padding < 0) {
      throw new IllegalArgumentException(layer + ": kernel_size " + kernel + " and stride " + stride
          + " must be positive and padding " + padding + " non-negative");
    }
    if (padding > kernel / 2) {
      throw new IllegalArgumentException(layer + ": padding " + padding + " must be at most half of kernel_size " + kernel);
    }
  }

  /**
   * {@code [N, C, outL]} for a window of {@code kernel} every {@code stride} over {@code [N, C, L]}, with
   * {@code padding} and ceil mode as PyTorch's pooling layers.
   *
   * @throws ShapeException naming {@code layer} (its repr) and the shape received
   */
  static int[] outputShape1d(LayerSpec layer, int[] in, int kernel, int stride, int padding, boolean ceilMode) {
    if (in.length != 3) {
      throw new ShapeException(layer + " expects [N, C, L], receives " + Shapes.toString(in));
    }
    int out = Pool2dShape.outSize(in[2], kernel, stride, padding, ceilMode);
    if (out < 1) {
      throw new ShapeException(
          layer + " expects an input of length at least " + kernel + " after padding, receives " + Shapes.toString(in));
    }
    return new int[] {in[0], in[1], out};
  }
}
