package dev.kiln.dsl;

import dev.kiln.runtime.Ops;
import dev.kiln.runtime.Shapes;
import dev.kiln.runtime.Tensor;
import dev.kiln.runtime.cpu.Conv2dShape;

/**
 * 2-d convolution over {@code [N, inChannels, H, W]} images, PyTorch's {@code nn.Conv2d}: output
 * {@code [N, outChannels, outH, outW]} with {@code outH = (H + 2 padH - dilationH (kernelH - 1) - 1) / strideH + 1}
 * (rounded down), likewise outW.
 *
 * <pre>{@code
 * Conv2d conv = new Conv2d(1, 32, 3).padding(1);        // nn.Conv2d(1, 32, 3, padding=1)
 * Conv2d down = new Conv2d(32, 64, 3).stride(2).bias(false);
 * Conv2d depthwise = new Conv2d(32, 32, 3).padding(1).groups(32);  // nn.Conv2d(32, 32, 3, padding=1, groups=32)
 * Conv2d atrous = new Conv2d(64, 64, 3).padding(2).dilation(2);     // nn.Conv2d(64, 64, 3, padding=2, dilation=2)
 * }</pre>
 *
 * <p>Stride, padding, dilation, groups and bias are set by the builder methods, which change this layer and return
 * it; they must be called before the first {@link #forward} (and before handing
 * {@link #parameters()} to an optimizer). Parameters {@code weight [out, in / groups, kH, kW]} and
 * {@code bias [out]} start as PyTorch initialises them: uniform in {@code ±1/sqrt(fan_in)},
 * {@code fan_in = in / groups * kH * kW}. They are plain fields, found by {@link Module} under those names,
 * so that {@code bias(false)} can drop the bias; {@link #groups} draws both afresh (their shape or bound
 * changes), otherwise the weight is drawn once and never replaced.
 *
 * <p>{@code groups} splits both channel counts into that many groups (each must divide by it), output group
 * {@code g} seeing input group {@code g} only; {@code groups == inChannels} is a depthwise convolution
 * (MobileNet, ConvNeXt), which the CPU runs on direct kernels. {@code dilation} spaces the kernel's taps
 * (DeepLab's atrous convolutions).
 */
public class Conv2d extends Layer<Conv2d.Spec> {
  /** Conv2d's hyper-parameters and shape rule: {@code [N, in, H, W] -> [N, out, outH, outW]}. */
  public record Spec(
      int inChannels, int outChannels, int kernelH, int kernelW, int strideH, int strideW, int padH, int padW,
      int dilationH, int dilationW, int groups, boolean bias) implements LayerSpec {
    public Spec {
      if (inChannels <= 0 || outChannels <= 0) {
        throw new IllegalArgumentException(
            "Conv2d(" + inChannels + ", " + outChannels + "): channel counts must be positive");
      }
      try {
        Conv2dShape.checkWindow(kernelH, kernelW, strideH, strideW, padH, padW);
        Conv2dShape.checkDilationAndGroups(dilationH, dilationW, groups, inChannels, outChannels);
      } catch (IllegalArgumentException e) {
        throw new IllegalArgumentException("Conv2d(" + inChannels + ", " + outChannels + "): " + e.getMessage(), e);
      }
    }

    /** Without dilation or groups. */
    public Spec(int inChannels, int outChannels, int kernelH, int kernelW, int strideH, int strideW, int padH, int padW,
        boolean bias) {
      this(inChannels, outChannels, kernelH, kernelW, strideH, strideW, padH, padW, 1, 1, 1, bias);
    }

    /** The same layer with another stride. */
    public Spec withStride(int h, int w) {
      return new Spec(inChannels, outChannels, kernelH, kernelW, h, w, padH, padW, dilationH, dilationW, groups, bias);
    }

    /** The same layer with another zero padding. */
    public Spec withPadding(int h, int w) {
      return new Spec(inChannels, outChannels, kernelH, kernelW, strideH, strideW, h, w, dilationH, dilationW, groups, bias);
    }

    /** The same layer with another dilation. */
    public Spec withDilation(int h, int w) {
      return new Spec(inChannels, outChannels, kernelH, kernelW, strideH, strideW, padH, padW, h, w, groups, bias);
    }

    /** The same layer with another number of groups. */
    public Spec withGroups(int g) {
      return new Spec(inChannels, outChannels, kernelH, kernelW, strideH, strideW, padH, padW, dilationH, dilationW, g, bias);
    }

    /** The same layer with or without a bias. */
    public Spec withBias(boolean on) {
      return new Spec(inChannels, outChannels, kernelH, kernelW, strideH, strideW, padH, padW, dilationH, dilationW, groups, on);
    }

    /** The weight's shape, {@code [out, in / groups, kH, kW]}. */
    public int[] weightShape() {
      return new int[] {outChannels, inChannels / groups, kernelH, kernelW};
    }

    @Override
    public int[] outputShape(int[] in) {
      if (in.length != 4 || in[1] != inChannels) {
        throw new ShapeException(this + " expects [N, " + inChannels + ", H, W], receives " + Shapes.toString(in));
      }
      int outH = Conv2dShape.outSize(in[2], kernelH, strideH, padH, dilationH);
      int outW = Conv2dShape.outSize(in[3], kernelW, strideW, padW, dilationW);
      if (outH < 1 || outW < 1) {
        throw new ShapeException(
            this + " expects an input of at least " + (dilationH * (kernelH - 1) + 1) + "x" + (dilationW * (kernelW - 1) + 1)
                + " after padding, receives "
                + Shapes.toString(in));
      }
      return new int[] {in[0], outChannels, outH, outW};
    }

    /** PyTorch's repr, e.g. {@code Conv2d(1, 32, kernel_size=(3, 3), stride=(1, 1), padding=(1, 1))}. */
    @Override
    public String toString() {
      StringBuilder sb = new StringBuilder("Conv2d(").append(inChannels).append(", ").append(outChannels)
          .append(", kernel_size=(").append(kernelH).append(", ").append(kernelW)
          .append("), stride=(").append(strideH).append(", ").append(strideW).append(')');
      if (padH != 0 || padW != 0) {
        sb.append(", padding=(").append(padH).append(", ").append(padW).append(')');
      }
      if (dilationH != 1 || dilationW != 1) {
        sb.append(", dilation=(").append(dilationH).append(", ").append(dilationW).append(')');
      }
      if (groups != 1) {
        sb.append(", groups=").append(groups);
      }
      if (!bias) {
        sb.append(", bias=False");
      }
      return sb.append(')').toString();
    }
  }

  private Tensor weight;
  private Tensor bias;

  /** A square {@code kernelSize x kernelSize} kernel, stride 1, no padding, with a bias. */
  public Conv2d(int inChannels, int outChannels, int kernelSize) {
    this(inChannels, outChannels, kernelSize, kernelSize);
  }

  /** A {@code kernelH x kernelW} kernel, stride 1, no padding, with a bias. */
  public Conv2d(int inChannels, int outChannels, int kernelH, int kernelW) {
    super(new Spec(inChannels, outChannels, kernelH, kernelW, 1, 1, 0, 0, true));
    // registered, so that a frozen weight (requiresGrad(false)) stays in the state dict, as in PyTorch
    this.weight = registerParameter("weight", newWeight());
    this.bias = registerParameter("bias", newBias());
  }

  /** PyTorch's initialisation bound, {@code 1/sqrt(fan_in)}, {@code fan_in = in / groups * kH * kW}. */
  private float bound() {
    return (float) (1.0 / Math.sqrt((double) spec().inChannels() / spec().groups() * spec().kernelH() * spec().kernelW()));
  }

  private Tensor newWeight() {
    return Tensor.uniform(-bound(), bound(), spec().weightShape()).requiresGrad(true);
  }

  private Tensor newBias() {
    return Tensor.uniform(-bound(), bound(), spec().outChannels()).requiresGrad(true);
  }

  /** The same stride along height and width; returns this layer. */
  public Conv2d stride(int stride) {
    return stride(stride, stride);
  }

  /** Stride along height and width; returns this layer. */
  public Conv2d stride(int strideH, int strideW) {
    return reconfigure(spec().withStride(strideH, strideW));
  }

  /** The same zero padding on all four sides; returns this layer. */
  public Conv2d padding(int padding) {
    return padding(padding, padding);
  }

  /** Zero padding above and below ({@code padH}) and left and right ({@code padW}); returns this layer. */
  public Conv2d padding(int padH, int padW) {
    return reconfigure(spec().withPadding(padH, padW));
  }

  /** The same dilation (spacing of the kernel's taps) along height and width; returns this layer. */
  public Conv2d dilation(int dilation) {
    return dilation(dilation, dilation);
  }

  /** Dilation along height and width, PyTorch's {@code dilation=(h, w)}; returns this layer. */
  public Conv2d dilation(int dilationH, int dilationW) {
    return reconfigure(spec().withDilation(dilationH, dilationW));
  }

  /**
   * Splits the channels into {@code groups} groups, PyTorch's {@code groups=}: both channel counts must divide by it
   * ({@code groups == inChannels}: depthwise). Draws a fresh weight {@code [out, in / groups, kH, kW]} (and bias) with
   * the new bound; returns this layer.
   */
  public Conv2d groups(int groups) {
    reconfigure(spec().withGroups(groups));
    weight = redrawnParameter("weight", weight, this::newWeight);
    bias = redrawnParameter("bias", bias, this::newBias);
    return this;
  }

  /**
   * With or without a bias parameter; returns this layer. {@code bias(false)} removes the bias;
   * {@code bias(true)} after it draws a fresh one.
   */
  public Conv2d bias(boolean on) {
    reconfigure(spec().withBias(on));
    bias = optionalParameter("bias", bias, on, this::newBias);
    return this;
  }

  private Conv2d reconfigure(Spec next) {
    reconfigure(next, "stride, padding, dilation, groups and bias");
    return this;
  }

  public Tensor weight() {
    return weight;
  }

  /** The bias, or {@code null} after {@code bias(false)}. */
  public Tensor bias() {
    return bias;
  }

  @Override
  public Tensor forward(Tensor x) {
    if (x.dim() == 3) { // PyTorch 1.13's unbatched [C, H, W]
      if (x.size(0) != spec().inChannels()) {
        throw new ShapeException(spec() + " expects [N, " + spec().inChannels() + ", H, W], or [" + spec().inChannels()
            + ", H, W] for one sample, receives " + Shapes.toString(x.shape()) + (spec().inChannels() == 1
            ? "; images without a channel dimension take one with x.unsqueeze(1)" : ""));
      }
      return forward(x.unsqueeze(0)).squeeze(0);
    }
    outputShape(x.shape());
    markApplied();
    Spec s = spec();
    return Ops.conv2d(x, weight, bias, s.strideH(), s.strideW(), s.padH(), s.padW(), s.dilationH(), s.dilationW(), s.groups());
  }

}
