package dev.kiln.dsl;

import dev.kiln.runtime.Ops;
import dev.kiln.runtime.Shapes;
import dev.kiln.runtime.Tensor;
import java.util.Arrays;
import java.util.Locale;

/**
 * Layer normalisation, as PyTorch's {@code nn.LayerNorm(normalized_shape)}: each sample's last
 * dimensions (those of {@code normalizedShape}) are normalised by their own mean and biased
 * variance, {@code (x - mean) / sqrt(var + eps)}, then scaled by {@code weight} and shifted by
 * {@code bias} of {@code normalizedShape} (ones and zeros at first; left out when not
 * {@code elementwiseAffine}). The same in training and evaluation: no running statistics.
 * {@link Ops#layerNorm}: one pass each way on the CPU, the tape's device ops on CUDA.
 */
public class LayerNorm extends Layer<LayerNorm.Spec> {
  /** LayerNorm's hyper-parameters and shape rule: any shape ending with {@code normalizedShape}, unchanged. */
  public record Spec(int[] normalizedShape, double eps, boolean elementwiseAffine) implements LayerSpec {
    public Spec {
      normalizedShape = normalizedShape.clone();
      if (normalizedShape.length == 0) {
        throw new IllegalArgumentException("LayerNorm: normalized_shape needs at least one dimension");
      }
      for (int d : normalizedShape) {
        if (d <= 0) {
          throw new IllegalArgumentException("LayerNorm: normalized_shape must be positive, got "
              + Arrays.toString(normalizedShape));
        }
      }
      if (!(eps > 0) || Double.isInfinite(eps)) {
        throw new IllegalArgumentException("LayerNorm: eps must be a positive number, got " + eps);
      }
    }

    @Override
    public int[] normalizedShape() {
      return normalizedShape.clone();
    }

    @Override
    public int[] outputShape(int[] in) {
      int lead = in.length - normalizedShape.length;
      if (lead < 0 || !Arrays.equals(Arrays.copyOfRange(in, lead, in.length), normalizedShape)) {
        throw new ShapeException(this + " expects [*, " + Shapes.toString(normalizedShape).substring(1) + ", receives "
            + Shapes.toString(in));
      }
      return in.clone();
    }

    @Override
    public boolean equals(Object o) {
      return o instanceof Spec s && Arrays.equals(normalizedShape, s.normalizedShape) && eps == s.eps
          && elementwiseAffine == s.elementwiseAffine;
    }

    @Override
    public int hashCode() {
      return Arrays.hashCode(normalizedShape) * 31 + Double.hashCode(eps) * 2 + (elementwiseAffine ? 1 : 0);
    }

    @Override
    public String toString() {
      String dims = Arrays.stream(normalizedShape).mapToObj(String::valueOf).reduce((a, b) -> a + ", " + b).orElse("");
      return String.format(Locale.ROOT, "LayerNorm((%s%s), eps=%s, elementwise_affine=%s)", dims,
          normalizedShape.length == 1 ? "," : "", pythonRepr(eps), elementwiseAffine ? "True" : "False");
    }
  }

  private final Tensor weight;
  private final Tensor bias;

  /** Normalises the last dimensions, {@code normalizedShape}, with eps 1e-5 and a weight and bias: PyTorch's defaults. */
  public LayerNorm(int... normalizedShape) {
    this(new Spec(normalizedShape, 1e-5, true));
  }

  public LayerNorm(int[] normalizedShape, double eps, boolean elementwiseAffine) {
    this(new Spec(normalizedShape, eps, elementwiseAffine));
  }

  private LayerNorm(Spec spec) {
    super(spec);
    int[] shape = spec.normalizedShape();
    weight = spec.elementwiseAffine() ? registerParameter("weight", Tensor.ones(shape).requiresGrad(true)) : null;
    bias = spec.elementwiseAffine() ? registerParameter("bias", Tensor.zeros(shape).requiresGrad(true)) : null;
  }

  public Tensor weight() {
    return weight;
  }

  public Tensor bias() {
    return bias;
  }

  @Override
  public Tensor forward(Tensor x) {
    outputShape(x.shape());
    Spec s = spec();
    return Ops.layerNorm(x, s.normalizedShape(), weight, bias, s.eps());
  }
}
