package dev.kiln.dsl;

import dev.kiln.runtime.Ops;
import dev.kiln.runtime.Tensor;

/** {@code x > 0 ? x : negativeSlope * x} element-wise; any shape. */
public class LeakyReLU extends Layer<LeakyReLU.Spec> {
  /** LeakyReLU's hyper-parameter and shape rule: any shape, unchanged. */
  public record Spec(double negativeSlope) implements LayerSpec {
    public Spec {
      if (!Float.isFinite((float) negativeSlope)) { // kernels compute in float
        throw new IllegalArgumentException("LeakyReLU: negative_slope must be a finite float, got " + negativeSlope);
      }
    }

    @Override
    public int[] outputShape(int[] in) {
      return in.clone();
    }

    @Override
    public String toString() {
      return "LeakyReLU(negative_slope=" + pythonRepr(negativeSlope) + ")";
    }
  }


  /** negative_slope = 0.01, PyTorch's default. */
  public LeakyReLU() {
    this(0.01);
  }

  public LeakyReLU(double negativeSlope) {
    super(new Spec(negativeSlope));
  }


  @Override
  public Tensor forward(Tensor x) {
    return Ops.leakyRelu(x, spec().negativeSlope());
  }


}
