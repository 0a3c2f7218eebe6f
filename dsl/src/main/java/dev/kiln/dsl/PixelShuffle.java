package dev.kiln.dsl;

import dev.kiln.runtime.Shapes;
import dev.kiln.runtime.Tensor;

/**
 * Rearranges {@code [*, C r^2, H, W]} into {@code [*, C, H r, W r]}, as PyTorch's {@code
 * nn.PixelShuffle(upscale_factor)}: sub-pixel convolution's upsampling, a reshape and a permute.
 */
public class PixelShuffle extends Layer<PixelShuffle.Spec> {
  /** PixelShuffle's factor and shape rule. */
  public record Spec(int upscaleFactor) implements LayerSpec {
    public Spec {
      if (upscaleFactor < 1) {
        throw new IllegalArgumentException("PixelShuffle: upscale_factor must be positive, got " + upscaleFactor);
      }
    }

    @Override
    public int[] outputShape(int[] in) {
      int r = upscaleFactor, n = in.length;
      if (n < 3) {
        throw new ShapeException(this + " cannot take " + Shapes.toString(in) + ": pixel_shuffle expects input to have at least 3"
            + " dimensions, but got input with " + n + " dimension(s)");
      }
      if (in[n - 3] < 0 || in[n - 3] % (r * r) != 0) {
        throw new ShapeException(this + " cannot take " + Shapes.toString(in) + ": pixel_shuffle expects its input's 'channel'"
            + " dimension to be divisible by the square of upscale_factor, but input.size(-3)=" + in[n - 3] + " is not divisible by "
            + r * r);
      }
      int[] out = in.clone();
      out[n - 3] = in[n - 3] / (r * r);
      out[n - 2] = in[n - 2] * r;
      out[n - 1] = in[n - 1] * r;
      return out;
    }

    @Override
    public String toString() {
      return "PixelShuffle(upscale_factor=" + upscaleFactor + ")";
    }
  }

  public PixelShuffle(int upscaleFactor) {
    super(new Spec(upscaleFactor));
  }

  @Override
  public Tensor forward(Tensor x) {
    outputShape(x.shape());
    return F.pixelShuffle(x, spec().upscaleFactor());
  }
}
