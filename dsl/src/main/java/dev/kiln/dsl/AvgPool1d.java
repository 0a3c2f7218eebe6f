package dev.kiln.dsl;

import dev.kiln.runtime.Ops;
import dev.kiln.runtime.Tensor;

/**
 * 1-d average pooling over {@code [N, C, L]} (or one sample {@code [C, L]}), PyTorch's {@code nn.AvgPool1d}: each
 * output is the mean of a window of {@code kernelSize}.
 *
 * <pre>{@code
 * new AvgPool1d(2)                               // nn.AvgPool1d(2): [N, C, 128] -> [N, C, 64]
 * new AvgPool1d(3).stride(1).padding(1).countIncludePad(false)
 * }</pre>
 *
 * <p>The stride defaults to the kernel size; padding adds zeros, which count in the divisor unless
 * {@code countIncludePad(false)}; {@code ceilMode(true)} keeps a last partial window. The builder methods change
 * this layer and return it; it has no parameters. It runs as {@link AvgPool2d}'s kernels over {@code [N, C, 1, L]}.
 */
public class AvgPool1d extends Layer<AvgPool1d.Spec> {
  /** AvgPool1d's hyper-parameters and shape rule: {@code [N, C, L] -> [N, C, outL]}. */
  public record Spec(int kernelSize, int stride, int padding, boolean ceilMode, boolean countIncludePad) implements LayerSpec {
    public Spec {
      PoolingShapes.checkWindow1d("AvgPool1d", kernelSize, stride, padding);
    }

    @Override
    public int[] outputShape(int[] in) {
      return PoolingShapes.outputShape1d(this, in, kernelSize, stride, padding, ceilMode);
    }

    /** PyTorch's repr, e.g. {@code AvgPool1d(kernel_size=(2,), stride=(2,), padding=(0,))}. */
    @Override
    public String toString() {
      return "AvgPool1d(kernel_size=(" + kernelSize + ",), stride=(" + stride + ",), padding=(" + padding + ",))";
    }
  }

  /** A window of {@code kernelSize} moved by its own size, no padding. */
  public AvgPool1d(int kernelSize) {
    super(new Spec(kernelSize, kernelSize, 0, false, true));
  }

  /** The step between windows; returns this layer. */
  public AvgPool1d stride(int stride) {
    Spec s = spec();
    spec(new Spec(s.kernelSize(), stride, s.padding(), s.ceilMode(), s.countIncludePad()));
    return this;
  }

  /** Zeros at both ends, at most half the kernel size; returns this layer. */
  public AvgPool1d padding(int padding) {
    Spec s = spec();
    spec(new Spec(s.kernelSize(), s.stride(), padding, s.ceilMode(), s.countIncludePad()));
    return this;
  }

  /** Whether the output length is rounded up, keeping a last partial window; returns this layer. */
  public AvgPool1d ceilMode(boolean on) {
    Spec s = spec();
    spec(new Spec(s.kernelSize(), s.stride(), s.padding(), on, s.countIncludePad()));
    return this;
  }

  /** Whether the padding's zeros count in a window's divisor (PyTorch's default, true); returns this layer. */
  public AvgPool1d countIncludePad(boolean on) {
    Spec s = spec();
    spec(new Spec(s.kernelSize(), s.stride(), s.padding(), s.ceilMode(), on));
    return this;
  }

  @Override
  public Tensor forward(Tensor x) {
    if (x.dim() != 2) { // (Ops checks PyTorch 1.13's unbatched [C, L] and names its shape)
      outputShape(x.shape());
    }
    Spec s = spec();
    return Ops.avgPool1d(x, s.kernelSize(), s.stride(), s.padding(), s.ceilMode(), s.countIncludePad());
  }
}
