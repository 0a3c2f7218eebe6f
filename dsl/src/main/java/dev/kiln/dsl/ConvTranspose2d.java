package dev.kiln.dsl;

import dev.kiln.runtime.Ops;
import dev.kiln.runtime.Shapes;
import dev.kiln.runtime.Tensor;
import dev.kiln.runtime.cpu.Conv2dShape;

/**
 * Transposed 2-d convolution, PyTorch's {@code nn.ConvTranspose2d}: it maps {@code [N, inChannels, H, W]} to
 * {@code [N, outChannels, outH, outW]}, {@code outH = (H - 1) strideH - 2 padH + dilationH (kernelH - 1) + outputPadH
 * + 1}, the shape a {@code Conv2d(outChannels, inChannels)} with the same kernel, stride, padding, dilation and groups
 * maps back to the input: a decoder's upsampling, {@code new ConvTranspose2d(32, 16, 3).stride(2).padding(1)
 * .outputPadding(1)} doubling 7x7 to 14x14. {@code groups} splits both channel counts (input group {@code g} writes
 * output group {@code g} only; {@code groups == in == out} is depthwise), {@code dilation} spaces the kernel's taps;
 * the output padding must be below the stride or the dilation. Parameters {@code weight [in, out / groups, kH, kW]}
 * and {@code bias [out]} start as PyTorch's: uniform in {@code ±1/sqrt(fan_in)}, {@code fan_in = out / groups * kH *
 * kW} (PyTorch takes the weight's second dimension). Builder methods change this layer before its first forward, as
 * {@link Conv2d}'s; {@link #groups} draws both parameters afresh.
 * On either device, eager or compiled (the convolution's backward-data kernel forward, its forward
 * and backward-filter kernels backward).
 */
public class ConvTranspose2d extends Layer<ConvTranspose2d.Spec> {
  /** ConvTranspose2d's hyper-parameters and shape rule. */
  public record Spec(
      int inChannels, int outChannels, int kernelH, int kernelW, int strideH, int strideW, int padH, int padW,
      int outputPadH, int outputPadW, int dilationH, int dilationW, int groups, boolean bias) implements LayerSpec {
    public Spec {
      String name = "ConvTranspose2d(" + inChannels + ", " + outChannels + ")";
      if (inChannels <= 0 || outChannels <= 0) {
        throw new IllegalArgumentException(name + ": channel counts must be positive");
      }
      try {
        Conv2dShape.checkWindow(kernelH, kernelW, strideH, strideW, padH, padW);
        Conv2dShape.checkDilationAndGroups(dilationH, dilationW, groups, inChannels, outChannels);
      } catch (IllegalArgumentException e) {
        throw new IllegalArgumentException(name + ": " + e.getMessage(), e);
      }
      if (outputPadH < 0 || outputPadW < 0) {
        throw new IllegalArgumentException(name + ": output padding (" + outputPadH + ", " + outputPadW
            + ") must be non-negative");
      }
      // (below the stride or dilation: checked when the layer is applied, so that the builder's calls may come in any order)
    }

    /** Without dilation or groups. */
    public Spec(int inChannels, int outChannels, int kernelH, int kernelW, int strideH, int strideW, int padH, int padW,
        int outputPadH, int outputPadW, boolean bias) {
      this(inChannels, outChannels, kernelH, kernelW, strideH, strideW, padH, padW, outputPadH, outputPadW, 1, 1, 1, bias);
    }

    /** The same layer with another stride. */
    public Spec withStride(int h, int w) {
      return new Spec(inChannels, outChannels, kernelH, kernelW, h, w, padH, padW, outputPadH, outputPadW, dilationH, dilationW,
          groups, bias);
    }

    /** The same layer with another padding. */
    public Spec withPadding(int h, int w) {
      return new Spec(inChannels, outChannels, kernelH, kernelW, strideH, strideW, h, w, outputPadH, outputPadW, dilationH,
          dilationW, groups, bias);
    }

    /** The same layer with another output padding. */
    public Spec withOutputPadding(int h, int w) {
      return new Spec(inChannels, outChannels, kernelH, kernelW, strideH, strideW, padH, padW, h, w, dilationH, dilationW,
          groups, bias);
    }

    /** The same layer with another dilation. */
    public Spec withDilation(int h, int w) {
      return new Spec(inChannels, outChannels, kernelH, kernelW, strideH, strideW, padH, padW, outputPadH, outputPadW, h, w,
          groups, bias);
    }

    /** The same layer with another number of groups. */
    public Spec withGroups(int g) {
      return new Spec(inChannels, outChannels, kernelH, kernelW, strideH, strideW, padH, padW, outputPadH, outputPadW,
          dilationH, dilationW, g, bias);
    }

    /** The same layer with or without a bias. */
    public Spec withBias(boolean on) {
      return new Spec(inChannels, outChannels, kernelH, kernelW, strideH, strideW, padH, padW, outputPadH, outputPadW,
          dilationH, dilationW, groups, on);
    }

    /** The weight's shape, {@code [in, out / groups, kH, kW]}. */
    public int[] weightShape() {
      return new int[] {inChannels, outChannels / groups, kernelH, kernelW};
    }

    /** The output size along one axis: {@code (in - 1) stride - 2 pad + dilation (kernel - 1) + outputPad + 1}. */
    public static int outSize(int in, int kernel, int stride, int pad, int dilation, int outputPad) {
      return (in - 1) * stride - 2 * pad + dilation * (kernel - 1) + outputPad + 1;
    }

    @Override
    public int[] outputShape(int[] in) {
      if (in.length != 4 || in[1] != inChannels) {
        throw new ShapeException(this + " expects [N, " + inChannels + ", H, W], receives " + Shapes.toString(in));
      }
      checkOutputPadding();
      int outH = outSize(in[2], kernelH, strideH, padH, dilationH, outputPadH);
      int outW = outSize(in[3], kernelW, strideW, padW, dilationW, outputPadW);
      if (outH < 1 || outW < 1) {
        throw new ShapeException(this + " would give " + outH + "x" + outW + " positions from " + Shapes.toString(in)
            + ": the padding takes more than the kernel adds");
      }
      return new int[] {in[0], outChannels, outH, outW};
    }

    /**
     * Throws unless the output padding is below the stride or the dilation (PyTorch's rule): checked once the builder calls are all
     * made (at the first forward, and by the annotation processor at the declaration).
     */
    public void checkOutputPadding() {
      if (outputPadH >= Math.max(strideH, dilationH) || outputPadW >= Math.max(strideW, dilationW)) {
        throw new ShapeException(this + ": output padding (" + outputPadH + ", " + outputPadW
            + ") must be smaller than either the stride (" + strideH + ", " + strideW + ") or the dilation ("
            + dilationH + ", " + dilationW + ")");
      }
    }

    /**
     * PyTorch's repr, e.g. {@code ConvTranspose2d(32, 16, kernel_size=(3, 3), stride=(2, 2), padding=(1, 1), dilation=(2,
     * 2), output_padding=(1, 1), groups=2)}.
     */
    @Override
    public String toString() {
      StringBuilder sb = new StringBuilder("ConvTranspose2d(").append(inChannels).append(", ").append(outChannels)
          .append(", kernel_size=(").append(kernelH).append(", ").append(kernelW)
          .append("), stride=(").append(strideH).append(", ").append(strideW).append(')');
      if (padH != 0 || padW != 0) {
        sb.append(", padding=(").append(padH).append(", ").append(padW).append(')');
      }
      if (dilationH != 1 || dilationW != 1) {
        sb.append(", dilation=(").append(dilationH).append(", ").append(dilationW).append(')');
      }
      if (outputPadH != 0 || outputPadW != 0) {
        sb.append(", output_padding=(").append(outputPadH).append(", ").append(outputPadW).append(')');
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

  /** A square kernel, stride 1, no padding, with a bias. */
  public ConvTranspose2d(int inChannels, int outChannels, int kernelSize) {
    this(inChannels, outChannels, kernelSize, kernelSize);
  }

  public ConvTranspose2d(int inChannels, int outChannels, int kernelH, int kernelW) {
    super(new Spec(inChannels, outChannels, kernelH, kernelW, 1, 1, 0, 0, 0, 0, true));
    weight = registerParameter("weight", newWeight());
    bias = registerParameter("bias", newBias());
  }

  /** PyTorch's bound, {@code 1/sqrt(fan_in)}, {@code fan_in = out / groups * kH * kW} (the weight's dimension 1 times the kernel). */
  private float bound() {
    return (float) (1.0 / Math.sqrt((double) spec().outChannels() / spec().groups() * spec().kernelH() * spec().kernelW()));
  }

  private Tensor newWeight() {
    return Tensor.uniform(-bound(), bound(), spec().weightShape()).requiresGrad(true);
  }

  private Tensor newBias() {
    return Tensor.uniform(-bound(), bound(), spec().outChannels()).requiresGrad(true);
  }

  public ConvTranspose2d stride(int stride) {
    return stride(stride, stride);
  }

  public ConvTranspose2d stride(int strideH, int strideW) {
    return reconfigure(spec().withStride(strideH, strideW));
  }

  public ConvTranspose2d padding(int padding) {
    return padding(padding, padding);
  }

  public ConvTranspose2d padding(int padH, int padW) {
    return reconfigure(spec().withPadding(padH, padW));
  }

  /** Extra rows and columns on the output's bottom and right (below the stride or the dilation): picks among the sizes a stride leaves open. */
  public ConvTranspose2d outputPadding(int outputPadding) {
    return outputPadding(outputPadding, outputPadding);
  }

  public ConvTranspose2d outputPadding(int outputPadH, int outputPadW) {
    return reconfigure(spec().withOutputPadding(outputPadH, outputPadW));
  }

  /** The same dilation (spacing of the kernel's taps) along height and width; returns this layer. */
  public ConvTranspose2d dilation(int dilation) {
    return dilation(dilation, dilation);
  }

  /** Dilation along height and width, PyTorch's {@code dilation=(h, w)}; returns this layer. */
  public ConvTranspose2d dilation(int dilationH, int dilationW) {
    return reconfigure(spec().withDilation(dilationH, dilationW));
  }

  /**
   * Splits the channels into {@code groups} groups, PyTorch's {@code groups=}: both channel counts must divide by it
   * ({@code groups == in == out}: depthwise). Draws a fresh weight {@code [in, out / groups, kH, kW]} (and bias) with
   * the new bound; returns this layer.
   */
  public ConvTranspose2d groups(int groups) {
    reconfigure(spec().withGroups(groups));
    weight = redrawnParameter("weight", weight, this::newWeight);
    bias = redrawnParameter("bias", bias, this::newBias);
    return this;
  }

  /** With or without a bias parameter; {@code bias(true)} after {@code bias(false)} draws a fresh one. */
  public ConvTranspose2d bias(boolean on) {
    reconfigure(spec().withBias(on));
    bias = optionalParameter("bias", bias, on, this::newBias);
    return this;
  }

  private ConvTranspose2d reconfigure(Spec next) {
    reconfigure(next, "stride, padding, output padding, dilation, groups and bias");
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
    if (x.dim() == 3) { // one sample [C, H, W], as PyTorch 1.13 takes it
      return forward(x.unsqueeze(0)).squeeze(0);
    }
    outputShape(x.shape());
    markApplied();
    Spec s = spec();
    return Ops.convTranspose2d(x, weight, bias, s.strideH(), s.strideW(), s.padH(), s.padW(), s.outputPadH(), s.outputPadW(),
        s.dilationH(), s.dilationW(), s.groups());
  }
}
