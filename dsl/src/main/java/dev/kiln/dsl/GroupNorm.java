package dev.kiln.dsl;

import dev.kiln.runtime.Ops;
import dev.kiln.runtime.Shapes;

/**
 * Group normalisation, as PyTorch's {@code nn.GroupNorm(num_groups, num_channels, eps=1e-5, affine=True)}: the
 * {@code num_channels} channels of an {@code [N, C, *]} input (rank 2 or more) are split into {@code num_groups} groups
 * of {@code C / num_groups}; each sample's group is normalised by its own mean and biased variance, {@code (x - mean) /
 * sqrt(var + eps)}, then each channel scaled by {@code weight} and shifted by {@code bias} ({@code [C]}, ones and zeros
 * at first; left out when not {@code affine}). The same in training and evaluation: no running statistics, so it works
 * at any batch size (the normalisation of U-Nets and diffusion models). {@link Ops#groupNorm}.
 */
public class GroupNorm extends GroupNormLayer<GroupNorm.Spec> {
  /**
   * What the compiler needs of a group normalisation, GroupNorm's or {@link InstanceNorm2d}'s (one group a channel): its
   * groups, channels, eps and whether it has a weight and bias.
   */
  public interface Options extends LayerSpec {
    int numGroups();

    int numChannels();

    double eps();

    boolean affine();
  }

  /** GroupNorm's hyper-parameters and shape rule: {@code [N, numChannels, *]}, unchanged. */
  public record Spec(int numGroups, int numChannels, double eps, boolean affine) implements Options {
    public Spec {
      if (numGroups <= 0 || numChannels <= 0) {
        throw new IllegalArgumentException("GroupNorm(" + numGroups + ", " + numChannels
            + "): num_groups and num_channels must be positive");
      }
      if (numChannels % numGroups != 0) {
        throw new IllegalArgumentException("GroupNorm(" + numGroups + ", " + numChannels + "): num_channels (" + numChannels
            + ") must be divisible by num_groups (" + numGroups + ")");
      }
      if (!(eps > 0) || Double.isInfinite(eps)) {
        throw new IllegalArgumentException("GroupNorm(" + numGroups + ", " + numChannels + "): eps must be a positive number, got "
            + eps);
      }
    }

    @Override
    public int[] outputShape(int[] in) {
      return checkChannels(this, in, "[N, " + numChannels + ", *]", 2);
    }

    @Override
    public String toString() {
      return "GroupNorm(" + numGroups + ", " + numChannels + ", eps=" + pythonRepr(eps) + ", affine=" + (affine ? "True" : "False")
          + ")";
    }
  }

  /**
   * The shape rule of a group normalisation: rank {@code minRank} or more (exactly 4 for {@code minRank} 4), dimension 1
   * the spec's channels; the output has the input's shape.
   */
  static int[] checkChannels(Options spec, int[] in, String expected, int minRank) {
    if (in.length < minRank || (minRank == 4 && in.length != 4) || in[1] != spec.numChannels()) {
      throw new ShapeException(spec + " expects " + expected + ", receives " + Shapes.toString(in));
    }
    return in.clone();
  }

  /** {@code numChannels} channels in {@code numGroups} groups, eps 1e-5, with a weight and bias: PyTorch's defaults. */
  public GroupNorm(int numGroups, int numChannels) {
    this(numGroups, numChannels, 1e-5, true);
  }

  public GroupNorm(int numGroups, int numChannels, double eps, boolean affine) {
    super(new Spec(numGroups, numChannels, eps, affine));
  }
}
