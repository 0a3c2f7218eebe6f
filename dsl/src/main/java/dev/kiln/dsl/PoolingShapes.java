package dev.kiln.dsl;

import dev.kiln.runtime.Shapes;
import dev.kiln.runtime.cpu.Pool2dShape;

/** The shape rule max and average pooling share: a square window over {@code [N, C, H, W]}. */
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
}
