package dev.kiln.runtime.cpu;

/**
 * The geometry of one 2-d convolution, PyTorch's {@code conv2d} without dilation or groups: input
 * {@code [batch, inChannels, height, width]}, weight {@code [outChannels, inChannels, kernelH, kernelW]},
 * output {@code [batch, outChannels, outHeight(), outWidth()]}, all NCHW and contiguous. Plain
 * arithmetic, safe to use at compile time (the annotation processor): it allocates nothing and
 * loads no native code.
 *
 * @throws IllegalArgumentException when a size is out of range or the output would be empty; the
 *     message names the values, and callers add the operation and tensor shapes in front
 */
public record Conv2dShape(
    int batch, int inChannels, int height, int width, int outChannels,
    int kernelH, int kernelW, int strideH, int strideW, int padH, int padW) {

  public Conv2dShape {
    if (batch < 0 || inChannels <= 0 || height <= 0 || width <= 0 || outChannels <= 0) {
      throw new IllegalArgumentException(
          "batch " + batch + ", channels " + inChannels + " -> " + outChannels + " and input size "
              + height + "x" + width + " must be positive (batch may be 0)");
    }
    checkWindow(kernelH, kernelW, strideH, strideW, padH, padW);
    if (outSize(height, kernelH, strideH, padH) < 1 || outSize(width, kernelW, strideW, padW) < 1) {
      throw new IllegalArgumentException(
          "the " + kernelH + "x" + kernelW + " kernel is larger than the padded input "
              + (height + 2 * padH) + "x" + (width + 2 * padW) + " (" + height + "x" + width + " with padding ("
              + padH + ", " + padW + ")), so the output would be empty");
    }
  }

  /**
   * Checks a kernel, stride and padding on their own: kernel and stride at least 1, padding at
   * least 0.
   *
   * @throws IllegalArgumentException naming the offending values
   */
  public static void checkWindow(int kernelH, int kernelW, int strideH, int strideW, int padH, int padW) {
    if (kernelH <= 0 || kernelW <= 0 || strideH <= 0 || strideW <= 0 || padH < 0 || padW < 0) {
      throw new IllegalArgumentException(
          "kernel_size (" + kernelH + ", " + kernelW + ") and stride (" + strideH + ", " + strideW
              + ") must be positive and padding (" + padH + ", " + padW + ") non-negative");
    }
  }

  /**
   * Output length along one axis, {@code floor((in + 2 pad - kernel) / stride) + 1}; zero or less
   * when the kernel does not fit the padded input.
   */
  public static int outSize(int in, int kernel, int stride, int pad) {
    return Math.floorDiv(in + 2 * pad - kernel, stride) + 1;
  }

  public int outHeight() {
    return outSize(height, kernelH, strideH, padH);
  }

  public int outWidth() {
    return outSize(width, kernelW, strideW, padW);
  }

  /** Rows of the im2col matrix: {@code inChannels * kernelH * kernelW} (the GEMM's inner dimension). */
  public int patchSize() {
    return inChannels * kernelH * kernelW;
  }

  /** Elements of one input sample, {@code inChannels * height * width}. */
  public int inputSampleSize() {
    return inChannels * height * width;
  }

  /** Output positions per channel, {@code outHeight() * outWidth()}. */
  public int outPlaneSize() {
    return outHeight() * outWidth();
  }
}
