package dev.kiln.dsl;

import dev.kiln.runtime.Shapes;

/**
 * Instance normalisation of {@code [N, C, L]} inputs, as PyTorch's {@code nn.InstanceNorm1d(num_features, eps=1e-5,
 * momentum=0.1, affine=False, track_running_stats=False)}: each sample's channel is normalised by its own mean and
 * biased variance over its length, then, when {@code affine}, scaled by {@code weight} and shifted by {@code bias}
 * ({@code [C]}); with {@code trackRunningStats}, running statistics as {@link InstanceNorm} says. An unbatched
 * {@code [C, L]} is normalised as a batch of one. Compiled with running statistics too (the same update, and the same
 * normalisation by them in evaluation).
 */
public class InstanceNorm1d extends InstanceNorm<InstanceNorm1d.Spec> {
  /** InstanceNorm1d's hyper-parameters and shape rule: {@code [N, numFeatures, L]}, unchanged. */
  public record Spec(int numFeatures, double eps, boolean affine, double momentum, boolean trackRunningStats)
      implements InstanceNorm.Options {
    public Spec {
      InstanceNorm.validate("InstanceNorm1d", numFeatures, eps, momentum);
    }

    @Override
    public int rank() {
      return 3;
    }

    /** {@code [N, numFeatures, L]} with {@code L > 1}, which PyTorch requires (in evaluation too, without running statistics). */
    @Override
    public int[] outputShape(int[] in) {
      if (in.length != 3 || in[1] != numFeatures) {
        throw new ShapeException(this + " expects [N, " + numFeatures + ", L] (or [" + numFeatures + ", L] unbatched),"
            + " receives " + Shapes.toString(in));
      }
      if (in[2] == 1) {
        throw new ShapeException(this + " expects more than 1 spatial element (as PyTorch), receives " + Shapes.toString(in));
      }
      return in.clone();
    }

    /** PyTorch's repr: {@code InstanceNorm1d(64, eps=1e-05, momentum=0.1, affine=False, track_running_stats=False)}. */
    @Override
    public String toString() {
      return InstanceNorm.repr("InstanceNorm1d", this);
    }
  }

  /** {@code numFeatures} channels, eps 1e-5, no weight or bias, no running statistics: PyTorch's defaults. */
  public InstanceNorm1d(int numFeatures) {
    this(numFeatures, 1e-5, 0.1, false, false);
  }

  /** PyTorch's {@code InstanceNorm1d(num_features, eps, momentum, affine, track_running_stats)}, in its order. */
  public InstanceNorm1d(int numFeatures, double eps, double momentum, boolean affine, boolean trackRunningStats) {
    super(new Spec(numFeatures, eps, affine, momentum, trackRunningStats));
  }
}
