package dev.kiln.dsl;

import dev.kiln.runtime.Ops;
import dev.kiln.runtime.Shapes;
import dev.kiln.runtime.Tensor;
import dev.kiln.runtime.cpu.Conv2dShape;

/**
 * 2-d convolution over {@code [N, inChannels, H, W]} images, PyTorch's {@code nn.Conv2d} without
 * dilation or groups: output {@code [N, outChannels, outH, outW]} with
 * {@code outH = (H + 2 padH - kernelH) / strideH + 1} (rounded down), likewise outW.
 *
 * <pre>{@code
 * Conv2d conv = new Conv2d(1, 32, 3).padding(1);        // nn.Conv2d(1, 32, 3, padding=1)
 * Conv2d down = new Conv2d(32, 64, 3).stride(2).bias(false);
 * }</pre>
 *
 * <p>Stride, padding and bias are set by the builder methods, which change this layer and return
 * it; they must be called before the first {@link #forward} (and before handing
 * {@link #parameters()} to an optimizer). Parameters {@code weight [out, in, kH, kW]} and
 * {@code bias [out]} start as PyTorch initialises them: uniform in {@code ±1/sqrt(fan_in)},
 * {@code fan_in = in * kH * kW}. They are plain fields, found by {@link Module} under those names,
 * so that {@code bias(false)} can drop the bias; the weight is drawn once and never replaced.
 */
public class Conv2d extends Layer<Conv2d.Spec> {
  /** Conv2d's hyper-parameters and shape rule: {@code [N, in, H, W] -> [N, out, outH, outW]}. */
  public record Spec(
      int inChannels, int outChannels, int kernelH, int kernelW, int strideH, int strideW, int padH, int padW,
      boolean bias) implements LayerSpec {
    public Spec {
      if (inChannels <= 0 || outChannels <= 0) {
        throw new IllegalArgumentException(
            "Conv2d(" + inChannels + ", " + outChannels + "): channel counts must be positive");
      }
      try {
        Conv2dShape.checkWindow(kernelH, kernelW, strideH, strideW, padH, padW);
      } catch (IllegalArgumentException e) {
        throw new IllegalArgumentException("Conv2d(" + inChannels + ", " + outChannels + "): " + e.getMessage(), e);
      }
    }

    /** The same layer with another stride. */
    public Spec withStride(int h, int w) {
      return new Spec(inChannels, outChannels, kernelH, kernelW, h, w, padH, padW, bias);
    }

    /** The same layer with another zero padding. */
    public Spec withPadding(int h, int w) {
      return new Spec(inChannels, outChannels, kernelH, kernelW, strideH, strideW, h, w, bias);
    }

    /** The same layer with or without a bias. */
    public Spec withBias(boolean on) {
      return new Spec(inChannels, outChannels, kernelH, kernelW, strideH, strideW, padH, padW, on);
    }

    @Override
    public int[] outputShape(int[] in) {
      if (in.length != 4 || in[1] != inChannels) {
        throw new ShapeException(this + " expects [N, " + inChannels + ", H, W], receives " + Shapes.toString(in));
      }
      int outH = Conv2dShape.outSize(in[2], kernelH, strideH, padH);
      int outW = Conv2dShape.outSize(in[3], kernelW, strideW, padW);
      if (outH < 1 || outW < 1) {
        throw new ShapeException(
            this + " expects an input of at least " + kernelH + "x" + kernelW + " after padding, receives "
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
      if (!bias) {
        sb.append(", bias=False");
      }
      return sb.append(')').toString();
    }
  }

  private final Tensor weight;
  private Tensor bias;

  /** A square {@code kernelSize x kernelSize} kernel, stride 1, no padding, with a bias. */
  public Conv2d(int inChannels, int outChannels, int kernelSize) {
    this(inChannels, outChannels, kernelSize, kernelSize);
  }

  /** A {@code kernelH x kernelW} kernel, stride 1, no padding, with a bias. */
  public Conv2d(int inChannels, int outChannels, int kernelH, int kernelW) {
    super(new Spec(inChannels, outChannels, kernelH, kernelW, 1, 1, 0, 0, true));
    // registered, so that a frozen weight (requiresGrad(false)) stays in the state dict, as in PyTorch
    this.weight = registerParameter("weight",
        Tensor.uniform(-bound(), bound(), outChannels, inChannels, kernelH, kernelW).requiresGrad(true));
    this.bias = registerParameter("bias", newBias());
  }

  /** PyTorch's initialisation bound, {@code 1/sqrt(fan_in)}. */
  private float bound() {
    return (float) (1.0 / Math.sqrt((double) spec().inChannels() * spec().kernelH() * spec().kernelW()));
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
    reconfigure(next, "stride, padding and bias");
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
    return Ops.conv2d(x, weight, bias, spec().strideH(), spec().strideW(), spec().padH(), spec().padW());
  }


}
