package dev.kiln.dsl;

import dev.kiln.runtime.Shapes;
import dev.kiln.runtime.Tensor;

/**
 * Merges dimensions {@code startDim..endDim} into one; the default {@code Flatten()} keeps the
 * batch dimension: {@code [N, 1, 28, 28] -> [N, 784]}.
 */
public class Flatten extends Module {
  private final int startDim;
  private final int endDim;

  public Flatten() {
    this(1, -1);
  }

  public Flatten(int startDim, int endDim) {
    this.startDim = startDim;
    this.endDim = endDim;
  }

  @Override
  public Tensor forward(Tensor x) {
    return x.reshape(outputShape(x.shape()));
  }

  @Override
  public int[] outputShape(int[] in) {
    try {
      int[] out = Shapes.flatten(in, startDim, endDim);
      for (int i = 0; i < in.length; i++) { // a symbolic batch dimension stays symbolic
        if (in[i] == -1) {
          int s = startDim < 0 ? startDim + in.length : startDim;
          int e = endDim < 0 ? endDim + in.length : endDim;
          out[i < s ? i : i <= e ? s : i - (e - s)] = -1;
        }
      }
      return out;
    } catch (IllegalArgumentException e) {
      throw new ShapeException(this + " cannot take " + Shapes.toString(in) + ": " + e.getMessage());
    }
  }

  @Override
  protected String extraRepr() {
    return "start_dim=" + startDim + ", end_dim=" + endDim;
  }
}
