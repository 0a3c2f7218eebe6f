package dev.kiln.dsl;

import dev.kiln.runtime.Ops;
import dev.kiln.runtime.Shapes;
import dev.kiln.runtime.Tensor;
import dev.kiln.runtime.cpu.Conv2dShape;

/**
 * 1-d convolution over {@code [N, inChannels, L]} sequences, PyTorch's {@code nn.Conv1d}: output
 * {@code [N, outChannels, outL]} with {@code outL = (L + 2 padding - dilation (kernelSize - 1) - 1) / stride + 1}
 * (rounded down). One sample {@code [inChannels, L]} gives {@code [outChannels, outL]}, as in PyTorch 1.13.
 *
 * <pre>{@code
 * Conv1d conv = new Conv1d(16, 32, 3).padding(1);       // nn.Conv1d(16, 32, 3, padding=1)
 * Conv1d down = new Conv1d(32, 64, 5).stride(2).bias(false);
 * Conv1d causal = new Conv1d(32, 32, 2).dilation(4);     // WaveNet-style: nn.Conv1d(32, 32, 2, dilation=4)
 * Conv1d depthwise = new Conv1d(32, 32, 7).padding(3).groups(32);
 * }</pre>
 *
 * <p>The builder methods change this layer and return it, before the first {@link #forward}. Parameters
 * {@code weight [out, in / groups, kernelSize]} and {@code bias [out]} start as PyTorch initialises them: uniform in
 * {@code ±1/sqrt(in / groups * kernelSize)}; {@link #groups} draws them afresh, as {@link Conv2d#groups}. It runs as a {@code Conv2d} over the view {@code [N, C, 1, L]} with a
 * {@code 1 x kernelSize} kernel ({@link Ops#conv1d}), on the CPU and on CUDA alike.
 */
public class Conv1d extends Layer<Conv1d.Spec> {
  /** Conv1d's hyper-parameters and shape rule: {@code [N, in, L] -> [N, out, outL]}. */
  public record Spec(int inChannels, int outChannels, int kernelSize, int stride, int padding, int dilation, int groups,
      boolean bias) implements LayerSpec {
    public Spec {
      if (inChannels <= 0 || outChannels <= 0) {
        throw new IllegalArgumentException("Conv1d(" + inChannels + ", " + outChannels + "): channel counts must be positive");
      }
      if (kernelSize <= 0 || stride <= 0 || padding < 0) {
        throw new IllegalArgumentException("Conv1d(" + inChannels + ", " + outChannels + "): kernel_size " + kernelSize
            + " and stride " + stride + " must be positive and padding " + padding + " non-negative");
      }
      try {
        Conv2dShape.checkDilationAndGroups(dilation, dilation, groups, inChannels, outChannels);
      } catch (IllegalArgumentException e) {
        throw new IllegalArgumentException("Conv1d(" + inChannels + ", " + outChannels + "): "
            + e.getMessage().replace("dilation (" + dilation + ", " + dilation + ")", "dilation " + dilation), e);
      }
    }

    /** Without dilation or groups. */
    public Spec(int inChannels, int outChannels, int kernelSize, int stride, int padding, boolean bias) {
      this(inChannels, outChannels, kernelSize, stride, padding, 1, 1, bias);
    }

    public Spec withStride(int s) {
      return new Spec(inChannels, outChannels, kernelSize, s, padding, dilation, groups, bias);
    }

    public Spec withPadding(int p) {
      return new Spec(inChannels, outChannels, kernelSize, stride, p, dilation, groups, bias);
    }

    public Spec withDilation(int d) {
      return new Spec(inChannels, outChannels, kernelSize, stride, padding, d, groups, bias);
    }

    public Spec withGroups(int g) {
      return new Spec(inChannels, outChannels, kernelSize, stride, padding, dilation, g, bias);
    }

    public Spec withBias(boolean on) {
      return new Spec(inChannels, outChannels, kernelSize, stride, padding, dilation, groups, on);
    }

    /** The convolution over {@code [N, in, 1, L]} that computes this one: a {@code 1 x kernelSize} kernel. */
    public Conv2d.Spec asConv2d() {
      return new Conv2d.Spec(inChannels, outChannels, 1, kernelSize, 1, stride, 0, padding, 1, dilation, groups, bias);
    }

    @Override
    public int[] outputShape(int[] in) {
      if (in.length != 3 || in[1] != inChannels) {
        throw new ShapeException(this + " expects [N, " + inChannels + ", L], receives " + Shapes.toString(in));
      }
      int out = Conv2dShape.outSize(in[2], kernelSize, stride, padding, dilation);
      if (out < 1) {
        throw new ShapeException(this + " expects an input of length at least " + (dilation * (kernelSize - 1) + 1)
            + " after padding, receives "
            + Shapes.toString(in));
      }
      return new int[] {in[0], outChannels, out};
    }

    /** PyTorch's repr, e.g. {@code Conv1d(16, 32, kernel_size=(3,), stride=(1,), padding=(1,))}. */
    @Override
    public String toString() {
      return "Conv1d(" + inChannels + ", " + outChannels + ", kernel_size=(" + kernelSize + ",), stride=(" + stride + ",)"
          + (padding != 0 ? ", padding=(" + padding + ",)" : "") + (dilation != 1 ? ", dilation=(" + dilation + ",)" : "")
          + (groups != 1 ? ", groups=" + groups : "") + (bias ? "" : ", bias=False") + ")";
    }
  }

  private Tensor weight;
  private Tensor bias;

  /** A kernel of {@code kernelSize}, stride 1, no padding, with a bias. */
  public Conv1d(int inChannels, int outChannels, int kernelSize) {
    super(new Spec(inChannels, outChannels, kernelSize, 1, 0, true));
    this.weight = registerParameter("weight", newWeight());
    this.bias = registerParameter("bias", newBias());
  }

  /** PyTorch's initialisation bound, {@code 1/sqrt(fan_in)}, {@code fan_in = in / groups * kernelSize}. */
  private float bound() {
    return (float) (1.0 / Math.sqrt((double) spec().inChannels() / spec().groups() * spec().kernelSize()));
  }

  private Tensor newWeight() {
    Spec s = spec();
    return Tensor.uniform(-bound(), bound(), s.outChannels(), s.inChannels() / s.groups(), s.kernelSize()).requiresGrad(true);
  }

  private Tensor newBias() {
    return Tensor.uniform(-bound(), bound(), spec().outChannels()).requiresGrad(true);
  }

  /** The step between windows; returns this layer. */
  public Conv1d stride(int stride) {
    reconfigure(spec().withStride(stride), SETTINGS);
    return this;
  }

  /** Zeros at both ends; returns this layer. */
  public Conv1d padding(int padding) {
    reconfigure(spec().withPadding(padding), SETTINGS);
    return this;
  }

  /** Spacing of the kernel's taps, PyTorch's {@code dilation=}; returns this layer. */
  public Conv1d dilation(int dilation) {
    reconfigure(spec().withDilation(dilation), SETTINGS);
    return this;
  }

  /** Splits the channels into {@code groups} groups, as {@link Conv2d#groups}; draws a fresh weight and bias. Returns this layer. */
  public Conv1d groups(int groups) {
    reconfigure(spec().withGroups(groups), SETTINGS);
    weight = redrawnParameter("weight", weight, this::newWeight);
    bias = redrawnParameter("bias", bias, this::newBias);
    return this;
  }

  private static final String SETTINGS = "stride, padding, dilation, groups and bias";

  /** With or without a bias parameter; {@code bias(true)} after {@code bias(false)} draws a fresh one. Returns this layer. */
  public Conv1d bias(boolean on) {
    reconfigure(spec().withBias(on), SETTINGS);
    bias = optionalParameter("bias", bias, on, this::newBias);
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
    if (x.dim() == 2) { // PyTorch 1.13's unbatched [C, L]
      if (x.size(0) != spec().inChannels()) {
        throw new ShapeException(spec() + " expects [N, " + spec().inChannels() + ", L], or [" + spec().inChannels()
            + ", L] for one sample, receives " + Shapes.toString(x.shape()) + (spec().inChannels() == 1
            ? "; sequences without a channel dimension take one with x.unsqueeze(1)" : ""));
      }
      return forward(x.unsqueeze(0)).squeeze(0);
    }
    outputShape(x.shape());
    markApplied();
    Spec s = spec();
    return Ops.conv1d(x, weight, bias, s.stride(), s.padding(), s.dilation(), s.groups());
  }
}
