package dev.kiln.dsl;

import dev.kiln.runtime.Ops;
import dev.kiln.runtime.Shapes;
import dev.kiln.runtime.Tensor;
import dev.kiln.runtime.cpu.Conv2dShape;

/**
 * Transposed 2-d convolution, PyTorch's {@code nn.ConvTranspose2d} without groups or dilation: it
 * maps {@code [N, inChannels, H, W]} to {@code [N, outChannels, outH, outW]}, {@code outH = (H - 1)
 * strideH - 2 padH + kernelH + outputPadH}, the shape a {@code Conv2d(outChannels, inChannels)}
 * with the same kernel, stride and padding maps back to the input: a decoder's upsampling, {@code
 * new ConvTranspose2d(32, 16, 3).stride(2).padding(1).outputPadding(1)} doubling 7x7 to 14x14.
 * Parameters {@code weight [in, out, kH, kW]} and {@code bias [out]} start as PyTorch's: uniform
 * in {@code ±1/sqrt(fan_in)}, {@code fan_in = out * kH * kW} (PyTorch takes the weight's second
 * dimension). Builder methods change this layer before its first forward, as {@link Conv2d}'s.
 * On either device, eager or compiled (the convolution's backward-data kernel forward, its forward
 * and backward-filter kernels backward).
 */
public class ConvTranspose2d extends Layer<ConvTranspose2d.Spec> {
  /** ConvTranspose2d's hyper-parameters and shape rule. */
  public record Spec(
      int inChannels, int outChannels, int kernelH, int kernelW, int strideH, int strideW, int padH, int padW,
      int outputPadH, int outputPadW, boolean bias) implements LayerSpec {
    public Spec {
      String name = "ConvTranspose2d(" + inChannels + ", " + outChannels + ")";
      if (inChannels <= 0 || outChannels <= 0) {
        throw new IllegalArgumentException(name + ": channel counts must be positive");
      }
      try {
        Conv2dShape.checkWindow(kernelH, kernelW, strideH, strideW, padH, padW);
      } catch (IllegalArgumentException e) {
        throw new IllegalArgumentException(name + ": " + e.getMessage(), e);
      }
      if (outputPadH < 0 || outputPadW < 0) {
        throw new IllegalArgumentException(name + ": output padding (" + outputPadH + ", " + outputPadW
            + ") must be non-negative");
      }
      // (below the stride: checked when the layer is applied, so that the builder's calls may come in any order)
    }

    /** The same layer with another stride. */
    public Spec withStride(int h, int w) {
      return new Spec(inChannels, outChannels, kernelH, kernelW, h, w, padH, padW, outputPadH, outputPadW, bias);
    }

    /** The same layer with another padding. */
    public Spec withPadding(int h, int w) {
      return new Spec(inChannels, outChannels, kernelH, kernelW, strideH, strideW, h, w, outputPadH, outputPadW, bias);
    }

    /** The same layer with another output padding. */
    public Spec withOutputPadding(int h, int w) {
      return new Spec(inChannels, outChannels, kernelH, kernelW, strideH, strideW, padH, padW, h, w, bias);
    }

    /** The same layer with or without a bias. */
    public Spec withBias(boolean on) {
      return new Spec(inChannels, outChannels, kernelH, kernelW, strideH, strideW, padH, padW, outputPadH, outputPadW, on);
    }

    @Override
    public int[] outputShape(int[] in) {
      if (in.length != 4 || in[1] != inChannels) {
        throw new ShapeException(this + " expects [N, " + inChannels + ", H, W], receives " + Shapes.toString(in));
      }
      checkOutputPadding();
      int outH = (in[2] - 1) * strideH - 2 * padH + kernelH + outputPadH;
      int outW = (in[3] - 1) * strideW - 2 * padW + kernelW + outputPadW;
      if (outH < 1 || outW < 1) {
        throw new ShapeException(this + " would give " + outH + "x" + outW + " positions from " + Shapes.toString(in)
            + ": the padding takes more than the kernel adds");
      }
      return new int[] {in[0], outChannels, outH, outW};
    }

    /**
     * Throws unless the output padding is below the stride: checked once the builder calls are all
     * made (at the first forward, and by the annotation processor at the declaration).
     */
    public void checkOutputPadding() {
      if (outputPadH >= strideH || outputPadW >= strideW) {
        throw new ShapeException(this + ": output padding (" + outputPadH + ", " + outputPadW
            + ") must be smaller than the stride (" + strideH + ", " + strideW + ")");
      }
    }

    /** PyTorch's repr, e.g. {@code ConvTranspose2d(32, 16, kernel_size=(3, 3), stride=(2, 2), padding=(1, 1), output_padding=(1, 1))}. */
    @Override
    public String toString() {
      StringBuilder sb = new StringBuilder("ConvTranspose2d(").append(inChannels).append(", ").append(outChannels)
          .append(", kernel_size=(").append(kernelH).append(", ").append(kernelW)
          .append("), stride=(").append(strideH).append(", ").append(strideW).append(')');
      if (padH != 0 || padW != 0) {
        sb.append(", padding=(").append(padH).append(", ").append(padW).append(')');
      }
      if (outputPadH != 0 || outputPadW != 0) {
        sb.append(", output_padding=(").append(outputPadH).append(", ").append(outputPadW).append(')');
      }
      if (!bias) {
        sb.append(", bias=False");
      }
      return sb.append(')').toString();
    }
  }

  private final Tensor weight;
  private Tensor bias;

  /** A square kernel, stride 1, no padding, with a bias. */
  public ConvTranspose2d(int inChannels, int outChannels, int kernelSize) {
    this(inChannels, outChannels, kernelSize, kernelSize);
  }

  public ConvTranspose2d(int inChannels, int outChannels, int kernelH, int kernelW) {
    super(new Spec(inChannels, outChannels, kernelH, kernelW, 1, 1, 0, 0, 0, 0, true));
    weight = registerParameter("weight",
        Tensor.uniform(-bound(), bound(), inChannels, outChannels, kernelH, kernelW).requiresGrad(true));
    bias = registerParameter("bias", newBias());
  }

  private float bound() {
    return (float) (1.0 / Math.sqrt((double) spec().outChannels() * spec().kernelH() * spec().kernelW()));
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

  /** Extra rows and columns on the output's bottom and right (below the stride): picks among the sizes a stride leaves open. */
  public ConvTranspose2d outputPadding(int outputPadding) {
    return outputPadding(outputPadding, outputPadding);
  }

  public ConvTranspose2d outputPadding(int outputPadH, int outputPadW) {
    return reconfigure(spec().withOutputPadding(outputPadH, outputPadW));
  }

  /** With or without a bias parameter; {@code bias(true)} after {@code bias(false)} draws a fresh one. */
  public ConvTranspose2d bias(boolean on) {
    reconfigure(spec().withBias(on));
    bias = optionalParameter("bias", bias, on, this::newBias);
    return this;
  }

  private ConvTranspose2d reconfigure(Spec next) {
    reconfigure(next, "stride, padding, output padding and bias");
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
    return Ops.convTranspose2d(x, weight, bias, s.strideH(), s.strideW(), s.padH(), s.padW(), s.outputPadH(), s.outputPadW());
  }
}
