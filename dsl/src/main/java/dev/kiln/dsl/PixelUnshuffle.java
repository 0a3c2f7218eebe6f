package dev.kiln.dsl;

import dev.kiln.runtime.Shapes;
import dev.kiln.runtime.Tensor;

/**
 * Rearranges {@code [*, C, H r, W r]} into {@code [*, C r^2, H, W]}, as PyTorch's {@code
 * nn.PixelUnshuffle(downscale_factor)}: {@link PixelShuffle}'s inverse, a reshape and a permute.
 */
public class PixelUnshuffle extends Layer<PixelUnshuffle.Spec> {
  /** PixelUnshuffle's factor and shape rule. */
  public record Spec(int downscaleFactor) implements LayerSpec {
    public Spec {
      if (downscaleFactor < 1) {
        throw new IllegalArgumentException("PixelUnshuffle: downscale_factor must be positive, got " + downscaleFactor);
      }
    }

    @Override
    public int[] outputShape(int[] in) {
      int r = downscaleFactor, n = in.length;
      if (n < 3) {
        throw new ShapeException(this + " cannot take " + Shapes.toString(in) + ": pixel_unshuffle expects input to have at least 3"
            + " dimensions, but got input with " + n + " dimension(s)");
      }
      for (int k = 2; k >= 1; k--) {
        if (in[n - k] < 0 || in[n - k] % r != 0) {
          throw new ShapeException(this + " cannot take " + Shapes.toString(in) + ": pixel_unshuffle expects " + (k == 2 ? "height"
              : "width") + " to be divisible by downscale_factor, but input.size(-" + k + ")=" + in[n - k] + " is not divisible by " + r);
        }
      }
      int[] out = in.clone();
      out[n - 3] = in[n - 3] < 0 ? -1 : in[n - 3] * r * r;
      out[n - 2] = in[n - 2] / r;
      out[n - 1] = in[n - 1] / r;
      return out;
    }

    @Override
    public String toString() {
      return "PixelUnshuffle(downscale_factor=" + downscaleFactor + ")";
    }
  }

  public PixelUnshuffle(int downscaleFactor) {
    super(new Spec(downscaleFactor));
  }

  @Override
  public Tensor forward(Tensor x) {
    outputShape(x.shape());
    return F.pixelUnshuffle(x, spec().downscaleFactor());
  }
}
