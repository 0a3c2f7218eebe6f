package dev.kiln.dsl;

import dev.kiln.runtime.Ops;
import dev.kiln.runtime.Tensor;

/**
 * 1-d max pooling over {@code [N, C, L]} (or one sample {@code [C, L]}), PyTorch's {@code nn.MaxPool1d} without
 * dilation: each output is the maximum of a window of {@code kernelSize}.
 *
 * <pre>{@code
 * new MaxPool1d(2)                              // nn.MaxPool1d(2): [N, C, 128] -> [N, C, 64]
 * new MaxPool1d(3).stride(2).padding(1)         // nn.MaxPool1d(3, stride=2, padding=1)
 * new MaxPool1d(2).ceilMode(true)               // [N, C, 7] -> [N, C, 4]
 * }</pre>
 *
 * <p>The stride defaults to the kernel size. The builder methods change this layer and return it; it has no
 * parameters. It runs as {@link MaxPool2d}'s kernels over {@code [N, C, 1, L]} ({@link Ops#maxPool1d}).
 */
public class MaxPool1d extends Layer<MaxPool1d.Spec> {
  /** MaxPool1d's hyper-parameters and shape rule: {@code [N, C, L] -> [N, C, outL]}. */
  public record Spec(int kernelSize, int stride, int padding, boolean ceilMode) implements LayerSpec {
    public Spec {
      PoolingShapes.checkWindow1d("MaxPool1d", kernelSize, stride, padding);
    }

    @Override
    public int[] outputShape(int[] in) {
      return PoolingShapes.outputShape1d(this, in, kernelSize, stride, padding, ceilMode);
    }

    /** PyTorch's repr, e.g. {@code MaxPool1d(kernel_size=2, stride=2, padding=0, dilation=1, ceil_mode=False)}. */
    @Override
    public String toString() {
      return "MaxPool1d(kernel_size=" + kernelSize + ", stride=" + stride + ", padding=" + padding
          + ", dilation=1, ceil_mode=" + (ceilMode ? "True" : "False") + ")";
    }
  }

  /** A window of {@code kernelSize} moved by its own size, no padding. */
  public MaxPool1d(int kernelSize) {
    super(new Spec(kernelSize, kernelSize, 0, false));
  }

  /** The step between windows; returns this layer. */
  public MaxPool1d stride(int stride) {
    spec(new Spec(spec().kernelSize(), stride, spec().padding(), spec().ceilMode()));
    return this;
  }

  /** Padding (counted as minus infinity) at both ends, at most half the kernel size; returns this layer. */
  public MaxPool1d padding(int padding) {
    spec(new Spec(spec().kernelSize(), spec().stride(), padding, spec().ceilMode()));
    return this;
  }

  /** Whether the output length is rounded up, keeping a last partial window; returns this layer. */
  public MaxPool1d ceilMode(boolean on) {
    spec(new Spec(spec().kernelSize(), spec().stride(), spec().padding(), on));
    return this;
  }

  @Override
  public Tensor forward(Tensor x) {
    if (x.dim() != 2) { // (Ops checks PyTorch 1.13's unbatched [C, L] and names its shape)
      outputShape(x.shape());
    }
    Spec s = spec();
    return Ops.maxPool1d(x, s.kernelSize(), s.stride(), s.padding(), s.ceilMode());
  }
}
