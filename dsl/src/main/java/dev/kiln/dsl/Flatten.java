package dev.kiln.dsl;

import dev.kiln.runtime.Shapes;
import dev.kiln.runtime.Tensor;

/**
 * Merges dimensions {@code startDim..endDim} into one; the default {@code Flatten()} keeps the
 * batch dimension: {@code [N, 1, 28, 28] -> [N, 784]}.
 */
public class Flatten extends Module {
  /** Flatten's hyper-parameters and shape rule. A symbolic batch dimension (-1) stays symbolic. */
  public record Spec(int startDim, int endDim) implements LayerSpec {
    @Override
    public int[] outputShape(int[] in) {
      int s, e;
      int[] out;
      try {
        out = Shapes.flatten(in, startDim, endDim);
        s = Shapes.normalizeDim(startDim, in.length);
        e = Shapes.normalizeDim(endDim, in.length);
      } catch (IllegalArgumentException ex) {
        throw new ShapeException(this + " cannot take " + Shapes.toString(in) + ": " + ex.getMessage());
      }
      for (int i = 0; i < in.length; i++) {
        if (in[i] == -1) {
          out[i < s ? i : i <= e ? s : i - (e - s)] = -1;
        }
      }
      return out;
    }

    @Override
    public String toString() {
      return "Flatten(start_dim=" + startDim + ", end_dim=" + endDim + ")";
    }
  }

  private final Spec spec;

  public Flatten() {
    this(1, -1);
  }

  public Flatten(int startDim, int endDim) {
    this.spec = new Spec(startDim, endDim);
  }

  public Spec spec() {
    return spec;
  }

  @Override
  public Tensor forward(Tensor x) {
    return x.reshape(outputShape(x.shape()));
  }

  @Override
  public int[] outputShape(int[] in) {
    return spec.outputShape(in);
  }

  @Override
  public String toString() {
    return spec.toString();
  }
}
