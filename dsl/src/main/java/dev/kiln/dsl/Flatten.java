package dev.kiln.dsl;

import dev.kiln.runtime.Shapes;
import dev.kiln.runtime.Tensor;

/**
 * Merges dimensions {@code startDim..endDim} into one; the default {@code Flatten()} keeps the
 * batch dimension: {@code [N, 1, 28, 28] -> [N, 784]}.
 */
public class Flatten extends Layer<Flatten.Spec> {
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


  public Flatten() {
    this(1, -1);
  }

  public Flatten(int startDim, int endDim) {
    super(new Spec(startDim, endDim));
  }


  @Override
  public Tensor forward(Tensor x) {
    return x.reshape(outputShape(x.shape()));
  }


}
