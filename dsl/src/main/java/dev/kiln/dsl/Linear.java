package dev.kiln.dsl;

import dev.kiln.runtime.Ops;
import dev.kiln.runtime.Shapes;
import dev.kiln.runtime.Tensor;

/**
 * Fully connected layer, {@code y = x W^T + b}: input {@code [N, in]} (or {@code [*, in]}),
 * output {@code [N, out]}. Parameters {@code weight [out, in]} and {@code bias [out]} start as
 * PyTorch initialises them: uniform in {@code ±1/sqrt(in)} (Kaiming-uniform with a = sqrt(5)).
 */
public class Linear extends Layer<Linear.Spec> {
  /** Linear's hyper-parameters and shape rule: {@code [*, in] -> [*, out]}. */
  public record Spec(int inFeatures, int outFeatures, boolean bias) implements LayerSpec {
    public Spec {
      if (inFeatures <= 0 || outFeatures <= 0) {
        throw new IllegalArgumentException(
            "Linear(" + inFeatures + ", " + outFeatures + "): feature counts must be positive");
      }
    }

    @Override
    public int[] outputShape(int[] in) {
      if (in.length < 1 || in[in.length - 1] != inFeatures) {
        throw new ShapeException(this + " expects [N, " + inFeatures + "], receives " + Shapes.toString(in));
      }
      int[] out = in.clone();
      out[out.length - 1] = outFeatures;
      return out;
    }

    /** The weight's shape, {@code [out, in]}: what a weight tied to it ({@link Linear#weight(Tensor)}) must have. */
    public int[] weightShape() {
      return new int[] {outFeatures, inFeatures};
    }

    @Override
    public String toString() {
      return "Linear(in_features=" + inFeatures + ", out_features=" + outFeatures + ", bias=" + (bias ? "True" : "False") + ")";
    }
  }

  private Tensor weight;
  private final Tensor bias;

  public Linear(int inFeatures, int outFeatures) {
    this(inFeatures, outFeatures, true);
  }

  /** {@code bias=false} leaves the bias out, as PyTorch's {@code Linear(in, out, bias=False)}. */
  public Linear(int inFeatures, int outFeatures, boolean bias) {
    super(new Spec(inFeatures, outFeatures, bias));
    float bound = (float) (1.0 / Math.sqrt(inFeatures));
    this.weight = registerParameter("weight", Tensor.uniform(-bound, bound, outFeatures, inFeatures).requiresGrad(true));
    this.bias = bias ? registerParameter("bias", Tensor.uniform(-bound, bound, outFeatures).requiresGrad(true)) : null;
  }


  public Tensor weight() {
    return weight;
  }

  /**
   * Ties this layer's weight to {@code shared}, another layer's parameter of the same shape {@code [out, in]}, as
   * PyTorch's {@code self.lm_head.weight = self.transformer.wte.weight}: {@code new Linear(D, V, false).weight(wte.weight())},
   * or {@code lmHead.weight(wte.weight())} in the model's constructor. Both layers then train the one tensor (see
   * {@link Module#shareParameter}).
   *
   * @return this layer
   * @throws IllegalArgumentException if {@code shared} is not a parameter of shape {@code [out, in]}
   */
  public Linear weight(Tensor shared) {
    weight = shareParameter("weight", "weight(...)", shared);
    return this;
  }

  /** The bias, or {@code null} when built with {@code bias=false}. */
  public Tensor bias() {
    return bias;
  }

  @Override
  public Tensor forward(Tensor x) {
    int[] shape = x.shape();
    outputShape(shape);
    if (shape.length == 2) {
      return Ops.linear(x, weight, bias);
    }
    return Ops.linear(x.reshape(-1, spec().inFeatures()), weight, bias).reshape(outputShape(shape));
  }


}
