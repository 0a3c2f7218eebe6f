package dev.kiln.dsl;

/**
 * Batch normalisation of {@code [N, C]} or {@code [N, C, L]} inputs over the batch (and length)
 * dimensions, as PyTorch's {@code nn.BatchNorm1d}; the output has the input's shape. See
 * {@link BatchNorm} for the parameters, buffers and training/evaluation behaviour.
 */
public class BatchNorm1d extends BatchNorm<BatchNorm1d.Spec> {
  /** BatchNorm1d's hyper-parameters and shape rule: {@code [N, C]} or {@code [N, C, L]}, unchanged. */
  public record Spec(int numFeatures, double eps, double momentum, boolean affine) implements BatchNorm.Options {
    public Spec {
      BatchNorm.validate("BatchNorm1d", numFeatures, eps, momentum);
    }

    @Override
    public int[] outputShape(int[] in) {
      return BatchNorm.checkInput(this, in, "[N, " + numFeatures + "] or [N, " + numFeatures + ", L]", 2, 3);
    }

    @Override
    public String toString() {
      return BatchNorm.repr("BatchNorm1d", this);
    }
  }


  /** {@code numFeatures} channels, eps 1e-5, momentum 0.1, affine: PyTorch's defaults. */
  public BatchNorm1d(int numFeatures) {
    this(numFeatures, DEFAULT_EPS, DEFAULT_MOMENTUM, true);
  }

  public BatchNorm1d(int numFeatures, double eps, double momentum, boolean affine) {
    this(new Spec(numFeatures, eps, momentum, affine));
  }

  private BatchNorm1d(Spec spec) {
    super(spec);
  }

}
