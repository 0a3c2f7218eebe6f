package dev.kiln.dsl;

import dev.kiln.runtime.Ops;
import dev.kiln.runtime.Tensor;

/** {@code x > 0 ? x : negativeSlope * x} element-wise; any shape. */
public class LeakyReLU extends Module {
  /** LeakyReLU's hyper-parameter and shape rule: any shape, unchanged. */
  public record Spec(double negativeSlope) implements LayerSpec {
    public Spec {
      if (!Double.isFinite(negativeSlope)) {
        throw new IllegalArgumentException("LeakyReLU: negative_slope must be a finite number, got " + negativeSlope);
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

  private final Spec spec;

  /** negative_slope = 0.01, PyTorch's default. */
  public LeakyReLU() {
    this(0.01);
  }

  public LeakyReLU(double negativeSlope) {
    this.spec = new Spec(negativeSlope);
  }

  public Spec spec() {
    return spec;
  }

  @Override
  public Tensor forward(Tensor x) {
    return Ops.leakyRelu(x, spec.negativeSlope());
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
