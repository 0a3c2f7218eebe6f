package dev.kiln.dsl;

import dev.kiln.runtime.Ops;
import dev.kiln.runtime.Shapes;
import dev.kiln.runtime.Tensor;

/**
 * Instance normalisation of {@code [N, C, H, W]} inputs, as PyTorch's {@code nn.InstanceNorm2d(num_features, eps=1e-5,
 * momentum=0.1, affine=False, track_running_stats=False)}: each sample's channel is normalised by its own mean and
 * biased variance over its map, then, when {@code affine}, scaled by {@code weight} and shifted by {@code bias}
 * ({@code [C]}, ones and zeros at first). By default the same in training and evaluation (no running statistics); with
 * {@code trackRunningStats}, training keeps {@code running_mean}/{@code running_var} and evaluation normalises by them
 * ({@link InstanceNorm}). It is a {@link GroupNorm} of one channel a group ({@link Ops#groupNorm}); an unbatched
 * {@code [C, H, W]} is normalised as a batch of one. Unlike PyTorch, which only warns, an input whose channels are not
 * {@code num_features} is refused also without {@code affine}. Compiled only without running statistics.
 */
public class InstanceNorm2d extends InstanceNorm<InstanceNorm2d.Spec> {
  /** InstanceNorm2d's hyper-parameters and shape rule: {@code [N, numFeatures, H, W]}, unchanged. */
  public record Spec(int numFeatures, double eps, boolean affine, double momentum, boolean trackRunningStats)
      implements InstanceNorm.Options {
    /** Momentum 0.1, no running statistics (PyTorch's defaults). */
    public Spec(int numFeatures, double eps, boolean affine) {
      this(numFeatures, eps, affine, 0.1, false);
    }

    public Spec {
      InstanceNorm.validate("InstanceNorm2d", numFeatures, eps, momentum);
    }

    @Override
    public int rank() {
      return 4;
    }

    /** {@code [N, numFeatures, H, W]} of more than one value a map, which PyTorch requires in training and evaluation alike. */
    @Override
    public int[] outputShape(int[] in) {
      int[] out = GroupNorm.checkChannels(this, in, "[N, " + numFeatures + ", H, W]", 4);
      if (in[2] * in[3] == 1) {
        throw new ShapeException(this + " expects more than 1 spatial element (as PyTorch, in training and evaluation "
            + "alike), receives " + Shapes.toString(in));
      }
      return out;
    }

    /** PyTorch's repr: {@code InstanceNorm2d(64, eps=1e-05, momentum=0.1, affine=False, track_running_stats=False)}. */
    @Override
    public String toString() {
      return InstanceNorm.repr("InstanceNorm2d", this);
    }
  }

  /** {@code numFeatures} channels, eps 1e-5, no weight or bias: PyTorch's defaults. */
  public InstanceNorm2d(int numFeatures) {
    this(numFeatures, 1e-5, false);
  }

  public InstanceNorm2d(int numFeatures, double eps, boolean affine) {
    super(new Spec(numFeatures, eps, affine));
  }

  /** PyTorch's {@code InstanceNorm2d(num_features, eps, momentum, affine, track_running_stats)}, in its order. */
  public InstanceNorm2d(int numFeatures, double eps, double momentum, boolean affine, boolean trackRunningStats) {
    super(new Spec(numFeatures, eps, affine, momentum, trackRunningStats));
  }
}
