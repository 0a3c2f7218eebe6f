package dev.kiln.dsl;

import dev.kiln.runtime.Ops;
import dev.kiln.runtime.Shapes;
import dev.kiln.runtime.Tensor;

/**
 * Nearest-neighbour upsampling by whole factors, as PyTorch's {@code nn.Upsample(scale_factor=s)}
 * with its default mode 'nearest': {@code [N, C, H, W] -> [N, C, H sh, W sw]}, each value repeated
 * over a block ({@link Ops#upsampleNearest}; a decoder's alternative to {@link ConvTranspose2d}),
 * eager or compiled; {@code F.interpolate(x, s)} is the functional form.
 */
public class Upsample extends Layer<Upsample.Spec> {
  /** Upsample's hyper-parameters and shape rule. */
  public record Spec(int scaleH, int scaleW) implements LayerSpec {
    public Spec {
      if (scaleH < 1 || scaleW < 1) {
        throw new IllegalArgumentException("Upsample: scale factors must be whole numbers of 1 or more, got (" + scaleH + ", "
            + scaleW + ")");
      }
    }

    @Override
    public int[] outputShape(int[] in) {
      if (in.length != 4) {
        throw new ShapeException(this + " expects [N, C, H, W], receives " + Shapes.toString(in));
      }
      return new int[] {in[0], in[1], in[2] * scaleH, in[3] * scaleW};
    }

    /** PyTorch's repr: {@code Upsample(scale_factor=2.0, mode=nearest)}, or a pair of factors. */
    @Override
    public String toString() {
      String factor = scaleH == scaleW ? scaleH + ".0" : "(" + scaleH + ".0, " + scaleW + ".0)";
      return "Upsample(scale_factor=" + factor + ", mode=nearest)";
    }
  }

  /** The same factor along height and width. */
  public Upsample(int scaleFactor) {
    this(scaleFactor, scaleFactor);
  }

  public Upsample(int scaleH, int scaleW) {
    super(new Spec(scaleH, scaleW));
  }

  @Override
  public Tensor forward(Tensor x) {
    outputShape(x.shape());
    return Ops.upsampleNearest(x, spec().scaleH(), spec().scaleW());
  }
}
