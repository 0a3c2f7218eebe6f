package dev.kiln.dsl;

import dev.kiln.runtime.Shapes;
import dev.kiln.runtime.Tensor;

/**
 * The gated linear unit, as PyTorch's {@code nn.GLU(dim=-1)}: the input split in halves {@code a, b} along {@code dim},
 * {@code a * sigmoid(b)}; the dimension halves (it must be even).
 */
public class GLU extends Layer<GLU.Spec> {
  /** GLU's hyper-parameter and shape rule: dimension {@code dim} halved. */
  public record Spec(int dim) implements LayerSpec {
    @Override
    public int[] outputShape(int[] in) {
      int d;
      try {
        d = Shapes.normalizeDim(dim, in.length);
      } catch (IllegalArgumentException e) {
        throw new ShapeException(this + " cannot take " + Shapes.toString(in) + ": " + e.getMessage());
      }
      if (in[d] == -1 || in[d] % 2 != 0) {
        throw new ShapeException(this + " cannot take " + Shapes.toString(in) + ": halving dimension must be even, but dimension " + d
            + " is " + (in[d] == -1 ? "the batch" : "size " + in[d]));
      }
      int[] out = in.clone();
      out[d] /= 2;
      return out;
    }

    @Override
    public String toString() {
      return "GLU(dim=" + dim + ")";
    }
  }

  /** dim = -1, PyTorch's default. */
  public GLU() {
    this(-1);
  }

  public GLU(int dim) {
    super(new Spec(dim));
  }

  @Override
  public Tensor forward(Tensor x) {
    outputShape(x.shape());
    return F.glu(x, spec().dim());
  }
}
