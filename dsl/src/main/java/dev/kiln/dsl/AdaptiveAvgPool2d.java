package dev.kiln.dsl;

import dev.kiln.runtime.Ops;
import dev.kiln.runtime.Shapes;
import dev.kiln.runtime.Tensor;

/**
 * Average pooling to a fixed output size whatever the input's, PyTorch's
 * {@code nn.AdaptiveAvgPool2d}: output {@code (i, j)} of {@code outH x outW} averages rows
 * {@code [floor(i H / outH), ceil((i + 1) H / outH))} and the columns likewise.
 * {@code new AdaptiveAvgPool2d(1)} is the global average pooling that ends a ResNet:
 * {@code [N, C, H, W] -> [N, C, 1, 1]}. No parameters.
 */
public class AdaptiveAvgPool2d extends Layer<AdaptiveAvgPool2d.Spec> {
  /**
   * The output size and shape rule: {@code [N, C, H, W] -> [N, C, outH, outW]}; {@code pair}: given
   * as two sizes (PyTorch's tuple, shown as one in the repr). A size of 0 gives an empty output, as in PyTorch.
   */
  public record Spec(int outH, int outW, boolean pair) implements LayerSpec {
    public Spec {
      if (outH < 0 || outW < 0) {
        throw new IllegalArgumentException("AdaptiveAvgPool2d: output_size (" + outH + ", " + outW + ") must not be negative");
      }
    }

    @Override
    public int[] outputShape(int[] in) {
      if (in.length != 4) {
        throw new ShapeException(this + " expects [N, C, H, W], receives " + Shapes.toString(in));
      }
      return new int[] {in[0], in[1], outH, outW};
    }

    /** PyTorch's repr: {@code AdaptiveAvgPool2d(output_size=1)}, {@code AdaptiveAvgPool2d(output_size=(2, 3))}. */
    @Override
    public String toString() {
      return "AdaptiveAvgPool2d(output_size=" + (pair ? "(" + outH + ", " + outW + ")" : Integer.toString(outH)) + ")";
    }
  }

  /** A square {@code size x size} output. */
  public AdaptiveAvgPool2d(int size) {
    super(new Spec(size, size, false));
  }

  /** An {@code outH x outW} output ({@code nn.AdaptiveAvgPool2d((outH, outW))}). */
  public AdaptiveAvgPool2d(int outH, int outW) {
    super(new Spec(outH, outW, true));
  }

  @Override
  public Tensor forward(Tensor x) {
    if (x.dim() != 3) { // (Ops checks PyTorch 1.13's unbatched [C, H, W] and names its shape)
      outputShape(x.shape());
    }
    return Ops.adaptiveAvgPool2d(x, spec().outH(), spec().outW());
  }
}
