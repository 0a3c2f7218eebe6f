package dev.kiln.runtime.cpu;

/**
 * The geometry of one 2-d convolution, PyTorch's {@code conv2d}: input
 * {@code [batch, inChannels, height, width]}, weight {@code [outChannels, inChannels / groups, kernelH, kernelW]},
 * output {@code [batch, outChannels, outHeight(), outWidth()]}, all NCHW and contiguous. Kernel taps are
 * {@code dilationH}/{@code dilationW} apart; the channels split into {@code groups} equal groups, output
 * group {@code g} reading input group {@code g} only. Plain
 * arithmetic, safe to use at compile time (the annotation processor): it allocates nothing and
 * loads no native code.
 *
 * @throws IllegalArgumentException when a size is out of range or the output would be empty; the
 *     message names the values, and callers add the operation and tensor shapes in front
 */
public record Conv2dShape(
    int batch, int inChannels, int height, int width, int outChannels,
    int kernelH, int kernelW, int strideH, int strideW, int padH, int padW, int dilationH, int dilationW, int groups) {

  /** Without dilation or groups (both 1). */
  public Conv2dShape(
      int batch, int inChannels, int height, int width, int outChannels,
      int kernelH, int kernelW, int strideH, int strideW, int padH, int padW) {
    this(batch, inChannels, height, width, outChannels, kernelH, kernelW, strideH, strideW, padH, padW, 1, 1, 1);
  }

  public Conv2dShape {
    if (batch < 0 || inChannels <= 0 || height <= 0 || width <= 0 || outChannels <= 0) {
      throw new IllegalArgumentException(
          "batch " + batch + ", channels " + inChannels + " -> " + outChannels + " and input size "
              + height + "x" + width + " must be positive (batch may be 0)");
    }
    checkWindow(kernelH, kernelW, strideH, strideW, padH, padW);
    checkDilationAndGroups(dilationH, dilationW, groups, inChannels, outChannels);
    if (outSize(height, kernelH, strideH, padH, dilationH) < 1 || outSize(width, kernelW, strideW, padW, dilationW) < 1) {
      throw new IllegalArgumentException(
          "the " + kernelH + "x" + kernelW + " kernel"
              + (dilationH == 1 && dilationW == 1 ? "" : " with dilation (" + dilationH + ", " + dilationW + ")")
              + " is larger than the padded input "
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
   * Checks dilation and groups on their own: dilation at least 1, groups at least 1 and dividing both
   * channel counts.
   *
   * @throws IllegalArgumentException naming the offending values
   */
  public static void checkDilationAndGroups(int dilationH, int dilationW, int groups, int inChannels, int outChannels) {
    if (dilationH <= 0 || dilationW <= 0) {
      throw new IllegalArgumentException("dilation (" + dilationH + ", " + dilationW + ") must be positive");
    }
    if (groups <= 0) {
      throw new IllegalArgumentException("groups " + groups + " must be positive");
    }
    if (inChannels % groups != 0 || outChannels % groups != 0) {
      throw new IllegalArgumentException((inChannels % groups != 0 ? "in_channels " + inChannels : "out_channels " + outChannels)
          + " must be divisible by groups " + groups);
    }
  }

  /**
   * Output length along one axis, {@code floor((in + 2 pad - kernel) / stride) + 1}; zero or less
   * when the kernel does not fit the padded input.
   */
  public static int outSize(int in, int kernel, int stride, int pad) {
    return Math.floorDiv(in + 2 * pad - kernel, stride) + 1;
  }

  /**
   * Output length along one axis with the kernel's taps {@code dilation} apart,
   * {@code floor((in + 2 pad - dilation (kernel - 1) - 1) / stride) + 1}, PyTorch's formula.
   */
  public static int outSize(int in, int kernel, int stride, int pad, int dilation) {
    return outSize(in, dilation * (kernel - 1) + 1, stride, pad);
  }

  public int outHeight() {
    return outSize(height, kernelH, strideH, padH, dilationH);
  }

  public int outWidth() {
    return outSize(width, kernelW, strideW, padW, dilationW);
  }

  /** No dilation and one group: the convolution the im2col, Winograd and few-channel kernels handle. */
  public boolean plain() {
    return dilationH == 1 && dilationW == 1 && groups == 1;
  }

  /** Input channels each group reads, {@code inChannels / groups} (the weight's second dimension). */
  public int groupInChannels() {
    return inChannels / groups;
  }

  /** Output channels each group writes, {@code outChannels / groups}. */
  public int groupOutChannels() {
    return outChannels / groups;
  }

  /**
   * Rows of the im2col matrix: {@code inChannels / groups * kernelH * kernelW} (the GEMM's inner dimension,
   * one group's; the elements of one filter).
   */
  public int patchSize() {
    return groupInChannels() * kernelH * kernelW;
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
