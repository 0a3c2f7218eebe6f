package dev.kiln.dsl;

/**
 * Batch normalisation of {@code [N, C, H, W]} inputs over the batch and spatial
 * dimensions, as PyTorch's {@code nn.BatchNorm2d}; the output has the input's shape. See
 * {@link BatchNorm} for the parameters, buffers and training/evaluation behaviour.
 */
public class BatchNorm2d extends BatchNorm<BatchNorm2d.Spec> {
  /** BatchNorm2d's hyper-parameters and shape rule: {@code [N, C, H, W]}, unchanged. */
  public record Spec(int numFeatures, double eps, double momentum, boolean affine) implements BatchNorm.Options {
    public Spec {
      BatchNorm.validate("BatchNorm2d", numFeatures, eps, momentum);
    }

    @Override
    public int[] outputShape(int[] in) {
      return BatchNorm.checkInput(this, in, "[N, " + numFeatures + ", H, W]", 4);
    }

    @Override
    public String toString() {
      return BatchNorm.repr("BatchNorm2d", this);
    }
  }


  /** {@code numFeatures} channels, eps 1e-5, momentum 0.1, affine: PyTorch's defaults. */
  public BatchNorm2d(int numFeatures) {
    this(numFeatures, DEFAULT_EPS, DEFAULT_MOMENTUM, true);
  }

  public BatchNorm2d(int numFeatures, double eps, double momentum, boolean affine) {
    this(new Spec(numFeatures, eps, momentum, affine));
  }

  private BatchNorm2d(Spec spec) {
    super(spec);
  }

}
