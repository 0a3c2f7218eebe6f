package dev.kiln.runtime.cpu;

/**
 * The geometry of one 2-d max pooling, PyTorch's {@code max_pool2d} without dilation: input
 * {@code [batch, channels, height, width]}, output {@code [batch, channels, outHeight(), outWidth()]},
 * NCHW and contiguous. Plain arithmetic, safe to use at compile time (the annotation processor).
 *
 * @throws IllegalArgumentException when a size is out of range, the padding is more than half
 *     the kernel (PyTorch's rule) or the output would be empty; the message names the values, and
 *     callers add the operation and tensor shapes in front
 */
public record Pool2dShape(
    int batch, int channels, int height, int width,
    int kernelH, int kernelW, int strideH, int strideW, int padH, int padW, boolean ceilMode) {

  public Pool2dShape {
    if (batch < 0 || channels <= 0 || height <= 0 || width <= 0) {
      throw new IllegalArgumentException(
          "batch " + batch + ", channels " + channels + " and input size " + height + "x" + width
              + " must be positive (batch may be 0)");
    }
    checkWindow(kernelH, kernelW, strideH, strideW, padH, padW);
    if (outSize(height, kernelH, strideH, padH, ceilMode) < 1 || outSize(width, kernelW, strideW, padW, ceilMode) < 1) {
      throw new IllegalArgumentException(
          "the " + kernelH + "x" + kernelW + " window is larger than the padded input "
              + (height + 2 * padH) + "x" + (width + 2 * padW) + " (" + height + "x" + width + " with padding ("
              + padH + ", " + padW + ")), so the output would be empty");
    }
  }

  /**
   * Checks a window on its own: kernel and stride at least 1, padding between 0 and half the kernel
   * (PyTorch's rule, which guarantees every window covers at least one input element).
   *
   * @throws IllegalArgumentException naming the offending values
   */
  public static void checkWindow(int kernelH, int kernelW, int strideH, int strideW, int padH, int padW) {
    Conv2dShape.checkWindow(kernelH, kernelW, strideH, strideW, padH, padW);
    if (padH > kernelH / 2 || padW > kernelW / 2) {
      throw new IllegalArgumentException(
          "padding (" + padH + ", " + padW + ") must be at most half of kernel_size ("
              + kernelH + ", " + kernelW + ")");
    }
  }

  /**
   * Output length along one axis, PyTorch's rule: {@code floor((in + 2 pad - kernel) / stride) + 1},
   * rounding up instead in ceil mode, where a last window that would start in the right padding
   * is dropped. Zero or less when the window does not fit the padded input.
   */
  public static int outSize(int in, int kernel, int stride, int pad, boolean ceilMode) {
    int span = in + 2 * pad - kernel;
    int out = (ceilMode ? Math.floorDiv(span + stride - 1, stride) : Math.floorDiv(span, stride)) + 1;
    if (ceilMode && (out - 1) * stride >= in + pad) {
      out--;
    }
    return out;
  }

  public int outHeight() {
    return outSize(height, kernelH, strideH, padH, ceilMode);
  }

  public int outWidth() {
    return outSize(width, kernelW, strideW, padW, ceilMode);
  }
}
