package dev.kiln.dsl;

import dev.kiln.runtime.Ops;
import dev.kiln.runtime.Shapes;
import dev.kiln.runtime.Tensor;

/**
 * Average pooling to a fixed output length whatever the input's, PyTorch's {@code nn.AdaptiveAvgPool1d}: output
 * {@code i} of {@code size} averages positions {@code [floor(i L / size), ceil((i + 1) L / size))}.
 * {@code new AdaptiveAvgPool1d(1)} is the global average pooling that ends a 1-d CNN: {@code [N, C, L] -> [N, C, 1]}.
 * No parameters; runs as {@link AdaptiveAvgPool2d}'s kernels over {@code [N, C, 1, L]}.
 */
public class AdaptiveAvgPool1d extends Layer<AdaptiveAvgPool1d.Spec> {
  /** The output length and shape rule: {@code [N, C, L] -> [N, C, size]}. A size of 0 gives an empty output, as in PyTorch. */
  public record Spec(int size) implements LayerSpec {
    public Spec {
      if (size < 0) {
        throw new IllegalArgumentException("AdaptiveAvgPool1d: output_size " + size + " must not be negative");
      }
    }

    @Override
    public int[] outputShape(int[] in) {
      if (in.length != 3) {
        throw new ShapeException(this + " expects [N, C, L], receives " + Shapes.toString(in));
      }
      return new int[] {in[0], in[1], size};
    }

    /** PyTorch's repr: {@code AdaptiveAvgPool1d(output_size=1)}. */
    @Override
    public String toString() {
      return "AdaptiveAvgPool1d(output_size=" + size + ")";
    }
  }

  public AdaptiveAvgPool1d(int size) {
    super(new Spec(size));
  }

  @Override
  public Tensor forward(Tensor x) {
    if (x.dim() != 2) { // (Ops checks PyTorch 1.13's unbatched [C, L] and names its shape)
      outputShape(x.shape());
    }
    return Ops.adaptiveAvgPool1d(x, spec().size());
  }
}
