package dev.kiln.dsl;

import dev.kiln.runtime.Ops;
import dev.kiln.runtime.Tensor;
import dev.kiln.runtime.cpu.Pool2dShape;

/**
 * 2-d average pooling over {@code [N, C, H, W]} with a square window, PyTorch's
 * {@code nn.AvgPool2d}: each output is the mean of a {@code kernelSize x kernelSize} window.
 *
 * <pre>{@code
 * new AvgPool2d(2)                               // nn.AvgPool2d(2): [N, C, 28, 28] -> [N, C, 14, 14]
 * new AvgPool2d(3).stride(2).padding(1)          // nn.AvgPool2d(3, stride=2, padding=1)
 * new AvgPool2d(3).padding(1).countIncludePad(false)
 * }</pre>
 *
 * <p>The stride defaults to the kernel size; padding adds zeros, which count in the divisor unless
 * {@code countIncludePad(false)}; {@code ceilMode(true)} keeps a last partial window, as max
 * pooling's. The builder methods change this layer and return it; it has no parameters.
 */
public class AvgPool2d extends Layer<AvgPool2d.Spec> {
  /** AvgPool2d's hyper-parameters and shape rule: {@code [N, C, H, W] -> [N, C, outH, outW]}. */
  public record Spec(int kernelSize, int stride, int padding, boolean ceilMode, boolean countIncludePad) implements LayerSpec {
    public Spec {
      try {
        Pool2dShape.checkWindow(kernelSize, kernelSize, stride, stride, padding, padding);
      } catch (IllegalArgumentException e) {
        throw new IllegalArgumentException("AvgPool2d: " + e.getMessage(), e);
      }
    }

    @Override
    public int[] outputShape(int[] in) {
      return PoolingShapes.outputShape(this, in, kernelSize, stride, padding, ceilMode);
    }

    /** PyTorch's repr, e.g. {@code AvgPool2d(kernel_size=2, stride=2, padding=0)}. */
    @Override
    public String toString() {
      return "AvgPool2d(kernel_size=" + kernelSize + ", stride=" + stride + ", padding=" + padding + ")";
    }
  }

  /** A {@code kernelSize x kernelSize} window moved by its own size, no padding. */
  public AvgPool2d(int kernelSize) {
    super(new Spec(kernelSize, kernelSize, 0, false, true));
  }

  /** The step between windows; returns this layer. */
  public AvgPool2d stride(int stride) {
    Spec s = spec();
    spec(new Spec(s.kernelSize(), stride, s.padding(), s.ceilMode(), s.countIncludePad()));
    return this;
  }

  /** Zero padding on all four sides, at most half the kernel size; returns this layer. */
  public AvgPool2d padding(int padding) {
    Spec s = spec();
    spec(new Spec(s.kernelSize(), s.stride(), padding, s.ceilMode(), s.countIncludePad()));
    return this;
  }

  /** Whether the output size is rounded up, keeping a last partial window; returns this layer. */
  public AvgPool2d ceilMode(boolean on) {
    Spec s = spec();
    spec(new Spec(s.kernelSize(), s.stride(), s.padding(), on, s.countIncludePad()));
    return this;
  }

  /** Whether the padding's zeros count in a window's divisor (PyTorch's default, true); returns this layer. */
  public AvgPool2d countIncludePad(boolean on) {
    Spec s = spec();
    spec(new Spec(s.kernelSize(), s.stride(), s.padding(), s.ceilMode(), on));
    return this;
  }

  @Override
  public Tensor forward(Tensor x) {
    if (x.dim() != 3) { // (Ops checks PyTorch 1.13's unbatched [C, H, W] and names its shape)
      outputShape(x.shape());
    }
    Spec s = spec();
    return Ops.avgPool2d(x, s.kernelSize(), s.stride(), s.padding(), s.ceilMode(), s.countIncludePad());
  }
}
