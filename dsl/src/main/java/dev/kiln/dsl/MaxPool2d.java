package dev.kiln.dsl;

import dev.kiln.runtime.Ops;
import dev.kiln.runtime.Tensor;
import dev.kiln.runtime.cpu.Pool2dShape;

/**
 * 2-d max pooling over {@code [N, C, H, W]} with a square window, PyTorch's {@code nn.MaxPool2d}
 * without dilation: each output is the maximum of a {@code kernelSize x kernelSize} window.
 *
 * <pre>{@code
 * new MaxPool2d(2)                              // nn.MaxPool2d(2): [N, C, 28, 28] -> [N, C, 14, 14]
 * new MaxPool2d(3).stride(2).padding(1)         // nn.MaxPool2d(3, stride=2, padding=1)
 * new MaxPool2d(2).ceilMode(true)               // [N, C, 7, 7] -> [N, C, 4, 4]
 * }</pre>
 *
 * <p>The stride defaults to the kernel size. The builder methods change this layer and return it;
 * it has no parameters.
 */
public class MaxPool2d extends Layer<MaxPool2d.Spec> {
  /** MaxPool2d's hyper-parameters and shape rule: {@code [N, C, H, W] -> [N, C, outH, outW]}. */
  public record Spec(int kernelSize, int stride, int padding, boolean ceilMode) implements LayerSpec {
    public Spec {
      try {
        Pool2dShape.checkWindow(kernelSize, kernelSize, stride, stride, padding, padding);
      } catch (IllegalArgumentException e) {
        throw new IllegalArgumentException("MaxPool2d: " + e.getMessage(), e);
      }
    }

    @Override
    public int[] outputShape(int[] in) {
      return PoolingShapes.outputShape(this, in, kernelSize, stride, padding, ceilMode);
    }

    /** PyTorch's repr, e.g. {@code MaxPool2d(kernel_size=2, stride=2, padding=0, dilation=1, ceil_mode=False)}. */
    @Override
    public String toString() {
      return "MaxPool2d(kernel_size=" + kernelSize + ", stride=" + stride + ", padding=" + padding
          + ", dilation=1, ceil_mode=" + (ceilMode ? "True" : "False") + ")";
    }
  }


  /** A {@code kernelSize x kernelSize} window moved by its own size, no padding. */
  public MaxPool2d(int kernelSize) {
    super(new Spec(kernelSize, kernelSize, 0, false));
  }

  /** The step between windows; returns this layer. */
  public MaxPool2d stride(int stride) {
    spec(new Spec(spec().kernelSize(), stride, spec().padding(), spec().ceilMode()));
    return this;
  }

  /** Padding (counted as minus infinity) on all four sides, at most half the kernel size; returns this layer. */
  public MaxPool2d padding(int padding) {
    spec(new Spec(spec().kernelSize(), spec().stride(), padding, spec().ceilMode()));
    return this;
  }

  /** Whether the output size is rounded up, keeping a last partial window; returns this layer. */
  public MaxPool2d ceilMode(boolean on) {
    spec(new Spec(spec().kernelSize(), spec().stride(), spec().padding(), on));
    return this;
  }


  @Override
  public Tensor forward(Tensor x) {
    if (x.dim() != 3) { // (Ops checks PyTorch 1.13's unbatched [C, H, W] and names its shape)
      outputShape(x.shape());
    }
    int k = spec().kernelSize(), s = spec().stride(), p = spec().padding();
    return Ops.maxPool2d(x, k, k, s, s, p, p, spec().ceilMode());
  }


}
