package dev.kiln.runtime;

import static dev.kiln.runtime.DeferredFusions.fitsTwoByTwo;
import static dev.kiln.runtime.ShapeOps.reshaping;
import static dev.kiln.runtime.UnaryOps.ReluNode;
import static dev.kiln.runtime.UnaryOps.unary;
import static dev.kiln.runtime.Ops.*;

import dev.kiln.runtime.cpu.ActivationKernels;
import dev.kiln.runtime.cpu.AvgPool2dShape;
import dev.kiln.runtime.cpu.ChannelAffine;
import dev.kiln.runtime.cpu.Conv2dShape;
import dev.kiln.runtime.cpu.ConvKernels;
import dev.kiln.runtime.cpu.NormKernels;
import dev.kiln.runtime.cpu.Pool2dShape;
import java.util.Arrays;
import java.util.Objects;

/**
 * Convolution, pooling, normalisation, dropout and upsampling of eager mode: conv2d and its transpose,
 * max/average/adaptive pooling, batch and layer norm, dropout and dropout2d, nearest upsampling; their
 * CUDA side is {@link CudaLayerOps}/{@link CudaOps}. Their public entries are in {@link Ops}.
 */
final class LayerOps {
  private LayerOps() {}

  /** A batch of images {@code [N, C, H, W]} (one sample {@code [C, H, W]} is unsqueezed before this). */
  private static void requireImages(String op, Tensor x) {
    if (x.dim() != 4) {
      throw new IllegalArgumentException(op + ": input must be [N, C, H, W], or [C, H, W] for one sample, got shape "
          + Shapes.toString(x.shape()));
    }
  }

  public static Tensor conv2d(Tensor x, Tensor weight, Tensor bias, int strideH, int strideW, int padH, int padW) {
    return conv2d(x, weight, bias, strideH, strideW, padH, padW, 1, 1, 1);
  }

  public static Tensor conv2d(Tensor x, Tensor weight, Tensor bias, int strideH, int strideW, int padH, int padW,
      int dilationH, int dilationW, int groups) {
    if (x.dim() == 3) {
      return squeeze(conv2d(unsqueeze(x, 0), weight, bias, strideH, strideW, padH, padW, dilationH, dilationW, groups), 0);
    }
    boolean cuda = Devices.onCuda("conv2d", x, weight, bias);
    requireFloat("conv2d", x);
    requireFloat("conv2d", weight);
    requireImages("conv2d", x);
    requireRank("conv2d", "weight", weight, 4);
    int outC = weight.size(0);
    if (groups > 0 && x.size(1) != weight.size(1) * groups) {
      throw new IllegalArgumentException(
          "conv2d: input " + Shapes.toString(x.shape()) + " has " + x.size(1) + " channels, weight "
              + Shapes.toString(weight.shape()) + " expects " + weight.size(1) * groups
              + (groups == 1 ? "" : " (" + weight.size(1) + " per group, groups " + groups + ")"));
    }
    if (bias != null && (bias.dim() != 1 || bias.size(0) != outC)) {
      throw new IllegalArgumentException(
          "conv2d: bias " + Shapes.toString(bias.shape()) + " does not match weight " + Shapes.toString(weight.shape())
              + " (expected [" + outC + "])");
    }
    Conv2dShape s;
    try {
      s = new Conv2dShape(x.size(0), x.size(1), x.size(2), x.size(3),
          outC, weight.size(2), weight.size(3), strideH, strideW, padH, padW, dilationH, dilationW, groups);
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException(
          "conv2d: input " + Shapes.toString(x.shape()) + ", weight " + Shapes.toString(weight.shape()) + ": "
              + e.getMessage(), e);
    }
    if (cuda) {
      return CudaLayerOps.conv2d(x, weight, bias, s);
    }
    int[] outShape = {s.batch(), outC, s.outHeight(), s.outWidth()};
    float[] out = ArrayPool.floats(Shapes.numel(outShape)); // overwritten
    Deferred.BatchNorm bn = track(x, weight, bias) ? null : batchNormReadThrough(x, s);
    if (bn != null) {
      // an evaluation batch norm (and ReLU) not computed yet, under no grad: the convolution maps its input as it copies
      // it (the same values), and the batch norm's map is never written unless something else reads it
      ChannelAffine pre = ChannelAffine.batchNorm(bn.mean(), bn.var(), bn.weight(), bn.bias(), bn.c(), bn.eps(),
          x.pendingValues() instanceof Deferred.BatchNormRelu);
      ConvKernels.conv2dForward(out, 0, bn.x().readBuffer(), bn.x().offset(), pre, weight.readBuffer(), weight.offset(),
          bias == null ? null : bias.readBuffer(), bias == null ? 0 : bias.offset(), s);
    } else {
      ConvKernels.conv2dForward(out, 0, x.readBuffer(), x.offset(),
          weight.readBuffer(), weight.offset(), bias == null ? null : bias.readBuffer(), bias == null ? 0 : bias.offset(), s);
    }
    if (!track(x, weight, bias)) {
      return Tensor.wrap(out, outShape).sealed(); // the array is the op's own: a batch norm after it may defer (Deferred)
    }
    Tensor[] inputs = layerInputs(x, weight, bias);
    return Tensor.ofNode(out, outShape, new Node(inputs) {
      @Override public String name() {
        return "conv2d";
      }

      @Override protected Tensor[] backward(Tensor g) {
        float[] dx = needsGrad(0) ? ArrayPool.floats(x.numel()) : null; // overwritten
        float[] dw = needsGrad(1) ? new float[weight.numel()] : null;
        float[] db = bias != null && needsGrad(2) ? new float[outC] : null;
        ConvKernels.conv2dBackward(dx, 0, dw, 0, db, 0, false, g.readBuffer(), g.offset(),
            x.readBuffer(), x.offset(), weight.readBuffer(), weight.offset(), s);
        recycle(g);
        Tensor[] grads = new Tensor[inputs.length];
        grads[0] = dx == null ? null : Tensor.gradient(dx, x.shape());
        grads[1] = dw == null ? null : Tensor.gradient(dw, weight.shape());
        if (db != null) {
          grads[2] = Tensor.gradient(db, outC);
        }
        return grads;
      }
    }).sealed();
  }

  public static Tensor maxPool2d(
      Tensor x, int kernelH, int kernelW, int strideH, int strideW, int padH, int padW, boolean ceilMode) {
    if (x.dim() == 3) { // unbatched [C, H, W], as in PyTorch 1.13 (checked first, so that errors name its shape)
      checkMaxPool2d(x, kernelH, kernelW, strideH, strideW, padH, padW, ceilMode);
      return squeeze(maxPool2d(unsqueeze(x, 0), kernelH, kernelW, strideH, strideW, padH, padW, ceilMode), 0);
    }
    if (Devices.onCuda("max_pool2d", x)) {
      return CudaOps.maxPool2d(x, kernelH, kernelW, strideH, strideW, padH, padW, ceilMode);
    }
    Pool2dShape s = checkMaxPool2d(x, kernelH, kernelW, strideH, strideW, padH, padW, ceilMode);
    int[] outShape = {s.batch(), s.channels(), s.outHeight(), s.outWidth()};
    int n = Shapes.numel(outShape);
    float[] out = ArrayPool.floats(n); // both overwritten
    Deferred.BatchNormRelu fused = x.pendingValues() instanceof Deferred.BatchNormRelu r && fitsTwoByTwo(r.bn(), s) ? r : null;
    if (!track(x) && fused == null) {
      // no backward will read an argmax (no grad mode, or x needs none): the values alone, the same bits
      ConvKernels.maxPool2dForward(out, 0, null, x.readBuffer(), x.offset(), s);
      return Tensor.wrap(out, outShape).sealed(); // the op's own array: a residual join may read it later (Deferred)
    }
    int[] argmax = ArrayPool.ints(n);
    if (fused != null) {
      // the ReLU of a batch norm not computed yet: pooled from the batch norm's input in one pass, the
      // compiled steps' fusion (the same values and argmax); the ReLU's map stays unwritten unless read
      Deferred.BatchNorm bn = fused.bn();
      NormKernels.batchNormReluMaxPool2x2(out, 0, argmax, bn.x().readBuffer(), bn.x().offset(), bn.mean(), 0, bn.var(), 0,
          bn.weight(), 0, bn.bias(), 0, bn.eps(), s);
    } else {
      ConvKernels.maxPool2dForward(out, 0, argmax, x.readBuffer(), x.offset(), s);
    }
    if (!track(x)) {
      ArrayPool.give(argmax); // no node keeps it
      return Tensor.wrap(out, outShape).sealed(); // the op's own array: a residual join may read it later (Deferred)
    }
    return Tensor.ofNode(out, outShape, new Node(x) {
      @Override public String name() {
        return "max_pool2d";
      }

      @Override protected Tensor[] backward(Tensor g) {
        float[] dx = ArrayPool.floats(x.numel()); // overwritten: zeros, then each gradient at its maximum
        // after a ReLU, its mask applied here (the compiled fusion's maxPool2dReluBackward: each gradient lands on a
        // window's maximum, whose ReLU output is the pooled value), so that the ReLU's backward has nothing to do
        ReluNode relu = x.gradFn() instanceof ReluNode r && outputIntact ? r : null;
        if (relu != null) {
          ConvKernels.maxPool2dReluBackward(dx, 0, g.readBuffer(), g.offset(), out, 0, argmax, s);
        } else {
          ConvKernels.maxPool2dBackward(dx, 0, g.readBuffer(), g.offset(), argmax, s);
        }
        recycle(g);
        if (lastBackward()) {
          ArrayPool.give(argmax); // this node's alone, and no backward reads it again
        }
        Tensor dxt = Tensor.gradient(dx, x.shape());
        dxt.reluMasked = relu;
        return new Tensor[] {dxt};
      }
    }).sealed();
  }

  /** Checks a max pooling's input and window, returning its geometry; shared with {@link CudaOps}. */
  static Pool2dShape checkMaxPool2d(
      Tensor x, int kernelH, int kernelW, int strideH, int strideW, int padH, int padW, boolean ceilMode) {
    requireFloat("max_pool2d", x);
    requireImagesOrOne("max_pool2d", x);
    try {
      return new Pool2dShape(x.dim() == 4 ? x.size(0) : 1, x.size(-3), x.size(-2), x.size(-1),
          kernelH, kernelW, strideH, strideW, padH, padW, ceilMode);
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException("max_pool2d: input " + Shapes.toString(x.shape()) + ": " + e.getMessage(), e);
    }
  }

  public static Tensor avgPool2d(Tensor x, int kernel, int stride, int padding, boolean ceilMode, boolean countIncludePad) {
    return avgPool2d("avg_pool2d", x, kernel, kernel, stride, stride, padding, padding, ceilMode, countIncludePad);
  }

  /** {@link #avgPool2d} with a {@code kernelH x kernelW} window; {@code name} is the op's, for errors. */
  private static Tensor avgPool2d(String name, Tensor x, int kernelH, int kernelW, int strideH, int strideW, int padH, int padW,
      boolean ceilMode, boolean countIncludePad) {
    requireFloat(name, x);
    requireImagesOrOne(name, x);
    AvgPool2dShape s;
    try {
      s = AvgPool2dShape.fixed(x.size(-2), x.size(-1), kernelH, kernelW, strideH, strideW, padH, padW, ceilMode, countIncludePad);
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException(name + ": input " + Shapes.toString(x.shape()) + ": " + e.getMessage(), e);
    }
    return avgPool(name, x, s);
  }

  public static Tensor convTranspose2d(Tensor x, Tensor weight, Tensor bias, int strideH, int strideW, int padH, int padW,
      int outputPadH, int outputPadW) {
    return convTranspose2d(x, weight, bias, strideH, strideW, padH, padW, outputPadH, outputPadW, 1, 1, 1);
  }

  public static Tensor convTranspose2d(Tensor x, Tensor weight, Tensor bias, int strideH, int strideW, int padH, int padW,
      int outputPadH, int outputPadW, int dilationH, int dilationW, int groups) {
    if (x.dim() == 3) {
      return squeeze(convTranspose2d(unsqueeze(x, 0), weight, bias, strideH, strideW, padH, padW, outputPadH, outputPadW,
          dilationH, dilationW, groups), 0);
    }
    boolean cuda = Devices.onCuda("conv_transpose2d", x, weight, bias);
    requireFloat("conv_transpose2d", x);
    requireFloat("conv_transpose2d", weight);
    requireImages("conv_transpose2d", x);
    requireRank("conv_transpose2d", "weight", weight, 4);
    Conv2dShape s = convTranspose2dShape(x.shape(), weight.shape(), strideH, strideW, padH, padW, outputPadH, outputPadW,
        dilationH, dilationW, groups);
    int outC = s.inChannels();
    if (bias != null && (bias.dim() != 1 || bias.size(0) != outC)) {
      throw new IllegalArgumentException("conv_transpose2d: bias " + Shapes.toString(bias.shape()) + " does not match weight "
          + Shapes.toString(weight.shape()) + (groups == 1 ? "" : " with groups " + groups) + " (expected [" + outC + "])");
    }
    if (s.outHeight() != x.size(2) || s.outWidth() != x.size(3)) {
      // an output padding of at least the stride (below the dilation): the convolution maps the output to more
      // positions than x has, the extra ones at the bottom and right with no gradient: x padded with zeros there
      x = IndexOps.pad(x, new int[] {0, s.outWidth() - x.size(3), 0, s.outHeight() - x.size(2)}, 0f);
    }
    if (cuda) {
      Tensor out = CudaLayerOps.convTranspose2d(x, weight, s);
      return bias == null ? out : add(out, reshape(bias, outC, 1, 1));
    }
    return convTransposeCpu(x, weight, bias, s);
  }

  /**
   * Checks a transposed convolution of input {@code x [N, inC, H, W]} by {@code weight [inC, outC / groups, kH, kW]},
   * returning the convolution that maps its output {@code [N, outC, outH, outW]} back to x, {@code outH = (H - 1) strideH
   * - 2 padH + dilationH (kH - 1) + outputPadH + 1}; that convolution's output is x's size, or larger (bottom and right)
   * when an output padding is at least the stride (PyTorch allows it below the dilation).
   *
   * @throws IllegalArgumentException naming the shapes
   */
  static Conv2dShape convTranspose2dShape(int[] x, int[] weight, int strideH, int strideW, int padH, int padW,
      int outputPadH, int outputPadW, int dilationH, int dilationW, int groups) {
    int inC = weight[0], kH = weight[2], kW = weight[3];
    String shapes = "conv_transpose2d: input " + Shapes.toString(x) + ", weight " + Shapes.toString(weight);
    if (x[1] != inC) {
      throw new IllegalArgumentException(shapes + ": the input has " + x[1]
          + " channels, the weight [in, out / groups, kH, kW] expects " + inC);
    }
    try {
      Conv2dShape.checkWindow(kH, kW, strideH, strideW, padH, padW);
      if (groups > 0 && inC % groups != 0) {
        throw new IllegalArgumentException("in_channels " + inC + " must be divisible by groups " + groups);
      }
      Conv2dShape.checkDilationAndGroups(dilationH, dilationW, groups, inC, weight[1] * Math.max(groups, 1));
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException(shapes + ": " + e.getMessage(), e);
    }
    int outC = weight[1] * groups;
    if (outputPadH < 0 || outputPadW < 0 || outputPadH >= Math.max(strideH, dilationH)
        || outputPadW >= Math.max(strideW, dilationW)) {
      throw new IllegalArgumentException("conv_transpose2d: output padding (" + outputPadH + ", " + outputPadW
          + ") must be non-negative and smaller than either the stride (" + strideH + ", " + strideW
          + ") or the dilation (" + dilationH + ", " + dilationW + ")");
    }
    int outH = (x[2] - 1) * strideH - 2 * padH + dilationH * (kH - 1) + outputPadH + 1;
    int outW = (x[3] - 1) * strideW - 2 * padW + dilationW * (kW - 1) + outputPadW + 1;
    try {
      if (outH < 1 || outW < 1) {
        throw new IllegalArgumentException("the output would be " + outH + "x" + outW);
      }
      return new Conv2dShape(x[0], outC, outH, outW, inC, kH, kW, strideH, strideW, padH, padW, dilationH, dilationW, groups);
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException(shapes + ", stride (" + strideH + ", " + strideW
          + "), padding (" + padH + ", " + padW + "): " + e.getMessage(), e);
    }
  }

  private static Tensor convTransposeCpu(Tensor x, Tensor weight, Tensor bias, Conv2dShape s) {
    int[] outShape = {s.batch(), s.inChannels(), s.height(), s.width()};
    float[] out = new float[Shapes.numel(outShape)];
    ConvKernels.convTranspose2dForward(out, 0, x.readBuffer(), x.offset(), weight.readBuffer(), weight.offset(),
        bias == null ? null : bias.readBuffer(), bias == null ? 0 : bias.offset(), s);
    if (!track(x, weight, bias)) {
      return Tensor.wrap(out, outShape);
    }
    Tensor[] inputs = layerInputs(x, weight, bias);
    return Tensor.ofNode(out, outShape, new Node(inputs) {
      @Override public String name() {
        return "conv_transpose2d";
      }

      @Override protected Tensor[] backward(Tensor g) {
        float[] dx = needsGrad(0) ? new float[x.numel()] : null;
        float[] dw = needsGrad(1) ? new float[weight.numel()] : null;
        float[] db = bias != null && needsGrad(2) ? new float[s.inChannels()] : null;
        ConvKernels.convTranspose2dBackward(dx, 0, dw, 0, db, 0, false, g.readBuffer(), g.offset(), x.readBuffer(), x.offset(),
            weight.readBuffer(), weight.offset(), s);
        Tensor[] grads = new Tensor[inputs.length];
        grads[0] = dx == null ? null : Tensor.gradient(dx, x.shape());
        grads[1] = dw == null ? null : Tensor.gradient(dw, weight.shape());
        if (db != null) {
          grads[2] = Tensor.gradient(db, s.inChannels());
        }
        return grads;
      }
    });
  }

  /** {@code [N, C, H, W]}, or one sample {@code [C, H, W]} (PyTorch 1.13's unbatched form). */
  private static void requireImagesOrOne(String op, Tensor x) {
    if (x.dim() != 4 && x.dim() != 3) {
      throw new IllegalArgumentException(op + ": input must be [N, C, H, W], or [C, H, W] for one sample, got shape "
          + Shapes.toString(x.shape()));
    }
  }

  public static Tensor adaptiveAvgPool2d(Tensor x, int outH, int outW) {
    requireFloat("adaptive_avg_pool2d", x);
    requireImagesOrOne("adaptive_avg_pool2d", x);
    AvgPool2dShape s;
    try {
      s = AvgPool2dShape.adaptive(x.size(-2), x.size(-1), outH, outW);
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException("adaptive_avg_pool2d: input " + Shapes.toString(x.shape()) + ": " + e.getMessage(), e);
    }
    return avgPool("adaptive_avg_pool2d", x, s);
  }

  private static Tensor avgPool(String name, Tensor x, AvgPool2dShape s) {
    if (x.dim() == 3) { // one sample: pooled as a batch of one, the geometry checked on its own shape
      return squeeze(avgPool(name, unsqueeze(x, 0), s), 0);
    }
    if (Devices.onCuda(name, x)) {
      return CudaOps.avgPool2d(name, x, s);
    }
    int planes = x.size(0) * x.size(1);
    int[] outShape = {x.size(0), x.size(1), s.outHeight(), s.outWidth()};
    return reshaping(name, x, outShape, (out, in, inOff) -> s.forward(out, 0, in, inOff, planes),
        (dx, g, gOff) -> s.backward(dx, 0, g, gOff, planes));
  }

  // ------------------------------------------------------------------ 1-d layers: their 2-d forms over one row

  /*
   * Each takes [N, C, L] (or one sample [C, L]) as the view [N, C, 1, L] and a kernel of height 1, so the 2-d
   * kernels (im2col + GEMM, cuDNN, the pooling loops) and their backward do the work; the views cost no copy and
   * pass the gradient through as it is. The checks here come first so that errors name the 1-d op and shapes.
   */

  /** {@code [N, C, L]}, or one sample {@code [C, L]} (PyTorch 1.13's unbatched form). */
  private static void requireSequences(String op, Tensor x) {
    if (x.dim() != 3 && x.dim() != 2) {
      throw new IllegalArgumentException(op + ": input must be [N, C, L], or [C, L] for one sample, got shape "
          + Shapes.toString(x.shape()));
    }
  }

  /**
   * Checks a 1-d window against an input of {@code length}: kernel and stride at least 1, padding at least 0 (at
   * most half the kernel for a pooling, PyTorch's rule), and at least one output position.
   */
  private static void checkWindow1d(String op, Tensor x, int kernel, int stride, int padding, boolean pooling, boolean ceilMode) {
    checkWindow1d(op, x, kernel, stride, padding, 1, pooling, ceilMode);
  }

  /** {@link #checkWindow1d} with the kernel's taps {@code dilation} apart (a convolution's). */
  private static void checkWindow1d(String op, Tensor x, int kernel, int stride, int padding, int dilation, boolean pooling,
      boolean ceilMode) {
    String where = op + ": input " + Shapes.toString(x.shape()) + ": ";
    if (kernel <= 0 || stride <= 0 || padding < 0) {
      throw new IllegalArgumentException(where + "kernel_size " + kernel + " and stride " + stride
          + " must be positive and padding " + padding + " non-negative");
    }
    if (dilation <= 0) {
      throw new IllegalArgumentException(where + "dilation " + dilation + " must be positive");
    }
    if (pooling && padding > kernel / 2) {
      throw new IllegalArgumentException(where + "padding " + padding + " must be at most half of kernel_size " + kernel);
    }
    int length = x.size(-1);
    int out = pooling ? Pool2dShape.outSize(length, kernel, stride, padding, ceilMode)
        : Conv2dShape.outSize(length, kernel, stride, padding, dilation);
    if (out < 1) {
      throw new IllegalArgumentException(where + "the kernel of " + kernel
          + (dilation == 1 ? "" : " with dilation " + dilation + " (spanning " + (dilation * (kernel - 1) + 1) + ")")
          + " is longer than the padded input of " + (length + 2 * padding) + " (" + length + " with padding " + padding
          + "), so the output would be empty");
    }
  }

  public static Tensor conv1d(Tensor x, Tensor weight, Tensor bias, int stride, int padding) {
    return conv1d(x, weight, bias, stride, padding, 1, 1);
  }

  public static Tensor conv1d(Tensor x, Tensor weight, Tensor bias, int stride, int padding, int dilation, int groups) {
    requireFloat("conv1d", x);
    requireSequences("conv1d", x);
    requireRank("conv1d", "weight", weight, 3);
    if (groups > 0 && x.size(-2) != weight.size(1) * groups) {
      throw new IllegalArgumentException("conv1d: input " + Shapes.toString(x.shape()) + " has " + x.size(-2) + " channels, weight "
          + Shapes.toString(weight.shape()) + " expects " + weight.size(1) * groups
          + (groups == 1 ? "" : " (" + weight.size(1) + " per group, groups " + groups + ")"));
    }
    checkWindow1d("conv1d", x, weight.size(2), stride, padding, dilation, false, false);
    return squeeze(conv2d(unsqueeze(x, -2), unsqueeze(weight, 2), bias, 1, stride, 0, padding, 1, dilation, groups), -2);
  }

  public static Tensor maxPool1d(Tensor x, int kernel, int stride, int padding, boolean ceilMode) {
    requireFloat("max_pool1d", x);
    requireSequences("max_pool1d", x);
    checkWindow1d("max_pool1d", x, kernel, stride, padding, true, ceilMode);
    return squeeze(maxPool2d(unsqueeze(x, -2), 1, kernel, 1, stride, 0, padding, ceilMode), -2);
  }

  public static Tensor avgPool1d(Tensor x, int kernel, int stride, int padding, boolean ceilMode, boolean countIncludePad) {
    requireFloat("avg_pool1d", x);
    requireSequences("avg_pool1d", x);
    checkWindow1d("avg_pool1d", x, kernel, stride, padding, true, ceilMode);
    return squeeze(avgPool2d("avg_pool1d", unsqueeze(x, -2), 1, kernel, 1, stride, 0, padding, ceilMode, countIncludePad), -2);
  }

  public static Tensor adaptiveAvgPool1d(Tensor x, int size) {
    requireFloat("adaptive_avg_pool1d", x);
    requireSequences("adaptive_avg_pool1d", x);
    if (size < 0) {
      throw new IllegalArgumentException("adaptive_avg_pool1d: output_size " + size + " must not be negative");
    }
    if (x.size(-1) == 0) {
      throw new IllegalArgumentException("adaptive_avg_pool1d: input " + Shapes.toString(x.shape()) + " must have a length");
    }
    return squeeze(adaptiveAvgPool2d(unsqueeze(x, -2), 1, size), -2);
  }

  public static Tensor batchNorm(
      Tensor x, Tensor runningMean, Tensor runningVar, Tensor weight, Tensor bias, boolean training, double momentum, double eps) {
    boolean cuda = Devices.onCuda("batch_norm", x, runningMean, runningVar, weight, bias);
    requireFloat("batch_norm", x);
    if (x.dim() < 2) {
      throw new IllegalArgumentException(
          "batch_norm: input must be [N, C, *] (rank 2 or more), got shape " + Shapes.toString(x.shape()));
    }
    requireBothOrNeither("running_mean", runningMean, "running_var", runningVar);
    requireBothOrNeither("weight", weight, "bias", bias);
    requireChannels(x, "running_mean", runningMean);
    requireChannels(x, "running_var", runningVar);
    requireChannels(x, "weight", weight);
    requireChannels(x, "bias", bias);
    int n = x.size(0), c = x.size(1), l = Shapes.numel(Arrays.copyOfRange(x.shape(), 2, x.dim()));
    int count = n * l;
    if (training && count < 2) {
      throw new IllegalArgumentException(
          "Expected more than 1 value per channel when training, got input size " + Shapes.toString(x.shape()));
    }
    if (!training && runningMean == null) {
      throw new IllegalArgumentException(
          "batch_norm: evaluation normalises with the running statistics, so running_mean and running_var must be given");
    }
    if (cuda) {
      return CudaLayerOps.batchNorm(x, runningMean, runningVar, weight, bias, training, momentum, eps, n, c, l);
    }
    float[] mean, var;
    if (training) {
      mean = new float[c];
      var = new float[c];
      NormKernels.batchStatistics(mean, 0, var, 0, x.readBuffer(), x.offset(), n, c, l);
      if (runningMean != null) {
        NormKernels.updateRunningStatistics(
            runningMean.buffer(), runningMean.offset(), runningVar.buffer(), runningVar.offset(), mean, 0, var, 0, c, count, momentum);
      }
    } else {
      // Copies: the backward must see the statistics this forward used, even if a training step updates them meanwhile.
      mean = runningMean.toFloatArray();
      var = runningVar.toFloatArray();
    }
    boolean tracked = track(x, weight, bias);
    boolean affine = weight != null;
    Tensor[] inputs = affine ? new Tensor[] {x, weight, bias} : new Tensor[] {x};
    Node node = !tracked ? null : new Node(inputs) {
      @Override public String name() {
        return "batch_norm";
      }

      @Override protected Tensor[] backward(Tensor g) {
        // into g's own array when only the engine held it: each channel's sums are taken before its dx is written
        float[] own = needsGrad(0) ? takeGradient(g) : null;
        float[] dx = own != null ? own : needsGrad(0) ? ArrayPool.floats(x.numel()) : null; // overwritten
        float[] dw = affine && needsGrad(1) ? new float[c] : null;
        float[] db = affine && needsGrad(2) ? new float[c] : null;
        NormKernels.batchNormBackward(dx, 0, dw, 0, db, 0, g.readBuffer(), g.offset(), x.readBuffer(), x.offset(), mean, 0, var, 0,
            bufferOrNull(weight), offsetOf(weight), n, c, l, eps, training);
        Tensor[] grads = new Tensor[inputs.length];
        grads[0] = dx == null ? null : Tensor.gradient(dx, x.shape());
        if (affine) {
          grads[1] = dw == null ? null : Tensor.gradient(dw, c);
          grads[2] = db == null ? null : Tensor.gradient(db, c);
        }
        return grads;
      }
    };
    if (x.isSealed() && x.deferrableOver()) {
      // computed when read (Deferred), from the statistics and affine parameters of now: a ReLU or a ReLU and a
      // 2x2 max pool after it then run as the compiled steps' fusions, and this map is written only if read
      Deferred.BatchNorm recipe = new Deferred.BatchNorm(x, mean, var, affine ? weight.toFloatArray() : null,
          affine ? bias.toFloatArray() : null, n, c, l, eps);
      return Tensor.deferred(recipe, x.shape(), node, x);
    }
    float[] out = ArrayPool.floats(x.numel()); // overwritten
    NormKernels.batchNormForward(out, 0, x.readBuffer(), x.offset(), mean, 0, var, 0,
        bufferOrNull(weight), offsetOf(weight), bufferOrNull(bias), offsetOf(bias), n, c, l, eps);
    return node == null ? Tensor.wrap(out, x.shape()) : Tensor.ofNode(out, x.shape(), node);
  }

  /**
   * The batch norm behind {@code x}, a convolution's input, when its values (or those of a ReLU of it) are not computed
   * yet, were not read that way before ({@link Tensor#takeOneRead}, which this marks), lie in the batch norm's layout and
   * the convolution {@code s} can read them through its factors ({@link ConvKernels#readsThroughAffine}); else null.
   */
  private static Deferred.BatchNorm batchNormReadThrough(Tensor x, Conv2dShape s) {
    Deferred pending = x.pendingValues();
    Deferred.BatchNorm bn = pending instanceof Deferred.BatchNormRelu r ? r.bn() : pending instanceof Deferred.BatchNorm b ? b : null;
    if (bn == null || bn.n() != s.batch() || bn.c() != s.inChannels() || bn.l() != s.height() * s.width()
        || !ConvKernels.readsThroughAffine(s)) {
      return null;
    }
    return x.takeOneRead() == pending ? bn : null;
  }

  private static void requireBothOrNeither(String firstName, Tensor first, String secondName, Tensor second) {
    if ((first == null) != (second == null)) {
      throw new IllegalArgumentException(
          "batch_norm: " + firstName + " and " + secondName + " go together: give both or neither");
    }
  }

  /** Checks that a per-channel tensor of batch norm, if given, is a float {@code [C]} for input x. */
  private static void requireChannels(Tensor x, String name, Tensor perChannel) {
    if (perChannel == null) {
      return;
    }
    requireFloat("batch_norm " + name, perChannel);
    if (perChannel.dim() != 1 || perChannel.size(0) != x.size(1)) {
      throw new IllegalArgumentException(
          "batch_norm: input " + Shapes.toString(x.shape()) + " has " + x.size(1) + " channels, but " + name + " has shape "
              + Shapes.toString(perChannel.shape()) + " (expected [" + x.size(1) + "])");
    }
  }

  public static Tensor layerNorm(Tensor x, int[] normalizedShape, Tensor weight, Tensor bias, double eps) {
    boolean cuda = Devices.onCuda("layer_norm", x, weight, bias);
    requireFloat("layer_norm", x);
    int lead = x.dim() - normalizedShape.length;
    if (normalizedShape.length == 0 || lead < 0
        || !Arrays.equals(Arrays.copyOfRange(x.shape(), lead, x.dim()), normalizedShape)) {
      throw new IllegalArgumentException("layer_norm: input " + Shapes.toString(x.shape()) + " does not end with normalized_shape "
          + Shapes.toString(normalizedShape));
    }
    requireBothOrNeither("weight", weight, "bias", bias);
    for (Tensor t : new Tensor[] {weight, bias}) {
      if (t != null && !Arrays.equals(t.shape(), normalizedShape)) {
        throw new IllegalArgumentException("layer_norm: " + (t == weight ? "weight " : "bias ") + Shapes.toString(t.shape())
            + " must have normalized_shape " + Shapes.toString(normalizedShape));
      }
    }
    if (!(eps > 0) || Double.isInfinite(eps)) {
      throw new IllegalArgumentException("layer_norm: eps must be a positive number, got " + eps);
    }
    int inner = Shapes.numel(normalizedShape);
    int rows = inner == 0 ? 0 : x.numel() / inner;
    if (cuda) {
      Tensor r = reshape(x, rows, inner); // each sample's normalised values as one row
      Tensor centred = sub(r, mean(r, 1, true));
      Tensor var = mean(mul(centred, centred), 1, true); // biased, as PyTorch's
      Tensor y = reshape(mul(centred, pow(shift(var, (float) eps), -0.5f)), x.shape());
      return weight == null ? y : add(mul(y, weight), bias);
    }
    float[] out = ArrayPool.floats(x.numel()); // overwritten
    double[] mean = new double[rows], rstd = new double[rows];
    NormKernels.layerNormForward(out, 0, x.readBuffer(), x.offset(), bufferOrNull(weight), offsetOf(weight), bufferOrNull(bias),
        offsetOf(bias), mean, rstd, rows, inner, eps);
    if (!track(x, weight, bias)) {
      return Tensor.wrap(out, x.shape()).sealed(); // the op's own array: what reads it may defer (Deferred)
    }
    Tensor[] inputs = weight == null ? new Tensor[] {x} : new Tensor[] {x, weight, bias};
    return Tensor.ofNode(out, x.shape(), new Node(inputs) {
      @Override public String name() {
        return "layer_norm";
      }

      @Override protected Tensor[] backward(Tensor g) {
        // the input's gradient over the output's when the engine owns it (the kernel sums the weight's and bias's
        // gradients before it writes dx, and reads each row of g before writing that row)
        float[] own = needsGrad(0) ? takeGradient(g) : null;
        float[] dx = own != null ? own : needsGrad(0) ? ArrayPool.floats(x.numel()) : null; // overwritten
        float[] dw = weight != null && needsGrad(1) ? new float[inner] : null;
        float[] db = weight != null && needsGrad(2) ? new float[inner] : null;
        NormKernels.layerNormBackward(dx, 0, dw, 0, db, 0, false, g.readBuffer(), g.offset(), x.readBuffer(), x.offset(),
            bufferOrNull(weight), offsetOf(weight), mean, rstd, rows, inner);
        Tensor[] grads = new Tensor[inputs.length];
        grads[0] = dx == null ? null : Tensor.gradient(dx, x.shape());
        if (weight != null) {
          grads[1] = dw == null ? null : Tensor.gradient(dw, normalizedShape);
          grads[2] = db == null ? null : Tensor.gradient(db, normalizedShape);
        }
        return grads;
      }
    }).sealed();
  }

  public static Tensor groupNorm(Tensor x, int groups, Tensor weight, Tensor bias, double eps) {
    boolean cuda = Devices.onCuda("group_norm", x, weight, bias);
    requireFloat("group_norm", x);
    if (x.dim() < 2) {
      throw new IllegalArgumentException(
          "group_norm: input must be [N, C, *] (rank 2 or more), got shape " + Shapes.toString(x.shape()));
    }
    int n = x.size(0), c = x.size(1), l = Shapes.numel(Arrays.copyOfRange(x.shape(), 2, x.dim()));
    if (groups <= 0 || c % groups != 0) {
      throw new IllegalArgumentException("group_norm: expected the number of channels in the input to be divisible by num_groups, "
          + "but got input of shape " + Shapes.toString(x.shape()) + " and num_groups=" + groups);
    }
    for (Tensor t : new Tensor[] {weight, bias}) {
      if (t != null) {
        requireFloat("group_norm " + (t == weight ? "weight" : "bias"), t);
        if (t.dim() != 1 || t.size(0) != c) {
          throw new IllegalArgumentException("group_norm: input " + Shapes.toString(x.shape()) + " has " + c + " channels, but "
              + (t == weight ? "weight" : "bias") + " has shape " + Shapes.toString(t.shape()) + " (expected [" + c + "])");
        }
      }
    }
    if (!(eps > 0) || Double.isInfinite(eps)) {
      throw new IllegalArgumentException("group_norm: eps must be a positive number, got " + eps);
    }
    if (cuda) {
      return CudaLayerOps.groupNorm(x, groups, weight, bias, eps, n, c, l);
    }
    float[] out = ArrayPool.floats(x.numel()); // overwritten
    double[] mean = new double[n * groups], rstd = new double[n * groups];
    NormKernels.groupNormForward(out, 0, x.readBuffer(), x.offset(), bufferOrNull(weight), offsetOf(weight), bufferOrNull(bias),
        offsetOf(bias), mean, rstd, n, c, groups, l, eps);
    if (!track(x, weight, bias)) {
      return Tensor.wrap(out, x.shape()).sealed(); // the op's own array: what reads it may defer (Deferred)
    }
    Tensor[] inputs = given(x, weight, bias);
    int wAt = weight == null ? -1 : 1, bAt = bias == null ? -1 : weight == null ? 1 : 2;
    return Tensor.ofNode(out, x.shape(), new Node(inputs) {
      @Override public String name() {
        return "group_norm";
      }

      @Override protected Tensor[] backward(Tensor g) {
        // over the output's gradient when the engine owns it: the kernel reads each row of g before it writes that row of dx
        float[] own = needsGrad(0) ? takeGradient(g) : null;
        float[] dx = own != null ? own : needsGrad(0) ? ArrayPool.floats(x.numel()) : null; // overwritten
        float[] dw = wAt >= 0 && needsGrad(wAt) ? new float[c] : null;
        float[] db = bAt >= 0 && needsGrad(bAt) ? new float[c] : null;
        NormKernels.groupNormBackward(dx, 0, dw, 0, db, 0, false, g.readBuffer(), g.offset(), x.readBuffer(), x.offset(),
            bufferOrNull(weight), offsetOf(weight), mean, rstd, n, c, groups, l);
        Tensor[] grads = new Tensor[inputs.length];
        grads[0] = dx == null ? null : Tensor.gradient(dx, x.shape());
        if (dw != null) {
          grads[wAt] = Tensor.gradient(dw, c);
        }
        if (db != null) {
          grads[bAt] = Tensor.gradient(db, c);
        }
        return grads;
      }
    }).sealed();
  }

  /** The tensors given, nulls left out: a node's inputs when a weight or a bias may be absent (group norm's). */
  static Tensor[] given(Tensor... tensors) {
    return Arrays.stream(tensors).filter(Objects::nonNull).toArray(Tensor[]::new);
  }

  public static Tensor dropout(Tensor x, double p, boolean training) {
    boolean cuda = Devices.onCuda("dropout", x);
    if (!(p >= 0 && p <= 1)) {
      throw new IllegalArgumentException("dropout: probability has to be between 0 and 1, but got " + p);
    }
    if (!training || p == 0) {
      return x;
    }
    if (cuda) {
      return CudaOps.dropout(x, p); // the same draws, made on the device
    }
    requireFloat("dropout", x); // before any draw: a refused call leaves the random stream where it was
    // drawn and applied in one call; the mask kept only for a backward, which scales the gradient it owns in place
    float[] mask = track(x) ? ArrayPool.floats(x.numel()) : null; // every entry written
    return unary("dropout", x, Reads.OWN,
        (out, outOff, in, inOff, n) -> ActivationKernels.dropoutForward(out, outOff, in, inOff, mask, 0, n, p, Kiln.generator()),
        (dx, dxOff, g, gOff, y, yOff, n) -> ActivationKernels.applyMask(dx, dxOff, g, gOff, mask, 0, n), true);
  }

  public static Tensor dropout2d(Tensor x, double p, boolean training) {
    Devices.onCuda("dropout2d", x);
    if (!(p >= 0 && p <= 1)) {
      throw new IllegalArgumentException("dropout2d: probability has to be between 0 and 1, but got " + p);
    }
    requireFloat("dropout2d", x);
    if (x.dim() < 2 || x.dim() > 4) {
      throw new IllegalArgumentException("dropout2d: input must be [N, C, H, W] (or PyTorch 1.13's [N, C, L] and [N, C]),"
          + " got shape " + Shapes.toString(x.shape()));
    }
    if (!training || p == 0) {
      return x;
    }
    int n = x.size(0), c = x.size(1);
    float[] mask = new float[n * c];
    ActivationKernels.dropoutMask(mask, 0, mask.length, p, Kiln.generator());
    int[] maskShape = new int[x.dim()]; // [n, c, 1, ...]: one draw per sample and channel, PyTorch's feature dropout
    java.util.Arrays.fill(maskShape, 1);
    maskShape[0] = n;
    maskShape[1] = c;
    return mul(x, Tensor.wrap(mask, maskShape).to(x.device()));
  }

  public static Tensor upsampleNearest(Tensor x, int scaleH, int scaleW) {
    requireFloat("upsample_nearest2d", x);
    if (x.dim() != 4) {
      throw new IllegalArgumentException("upsample_nearest2d: input must be [N, C, H, W], got shape " + Shapes.toString(x.shape()));
    }
    if (scaleH < 1 || scaleW < 1) {
      throw new IllegalArgumentException("upsample_nearest2d: scale factors must be whole numbers of 1 or more, got ("
          + scaleH + ", " + scaleW + ")");
    }
    int n = x.size(0), c = x.size(1), h = x.size(2), w = x.size(3);
    if (x.device().isCuda()) {
      return reshape(expand(reshape(x, n, c, h, 1, w, 1), n, c, h, scaleH, w, scaleW), n, c, h * scaleH, w * scaleW);
    }
    int[] outShape = Shapes.concat(new int[] {n, c}, h * scaleH, w * scaleW);
    float[] out = new float[Shapes.numel(outShape)];
    ConvKernels.upsampleNearestForward(out, 0, x.readBuffer(), x.offset(), n * c, h, w, scaleH, scaleW);
    if (!track(x)) {
      return Tensor.wrap(out, outShape);
    }
    return Tensor.ofNode(out, outShape, new Node(x) {
      @Override protected boolean savesInputs() {
        return false;
      }

      @Override public String name() {
        return "upsample_nearest2d";
      }

      @Override protected Tensor[] backward(Tensor g) {
        float[] dx = new float[x.numel()];
        ConvKernels.upsampleNearestBackward(dx, 0, g.readBuffer(), g.offset(), n * c, h, w, scaleH, scaleW);
        return new Tensor[] {Tensor.gradient(dx, x.shape())};
      }
    });
  }
}
