package dev.kiln.dsl;

import dev.kiln.runtime.Ops;
import dev.kiln.runtime.Shapes;
import dev.kiln.runtime.Tensor;

/**
 * Instance normalisation of {@code [N, C, H, W]} inputs, as PyTorch's {@code nn.InstanceNorm2d(num_features, eps=1e-5,
 * affine=False)} with its default {@code track_running_stats=False}: each sample's channel is normalised by its own mean
 * and biased variance over its map, then, when {@code affine}, scaled by {@code weight} and shifted by {@code bias}
 * ({@code [C]}, ones and zeros at first). The same in training and evaluation (no running statistics). It is a {@link
 * GroupNorm} of one channel a group ({@link Ops#groupNorm}); an unbatched {@code [C, H, W]} is normalised as a batch of
 * one. Unlike PyTorch, which only warns, an input whose channels are not {@code num_features} is refused also without
 * {@code affine}.
 */
public class InstanceNorm2d extends GroupNormLayer<InstanceNorm2d.Spec> {
  /** InstanceNorm2d's hyper-parameters and shape rule: {@code [N, numFeatures, H, W]}, unchanged. */
  public record Spec(int numFeatures, double eps, boolean affine) implements GroupNorm.Options {
    public Spec {
      if (numFeatures <= 0) {
        throw new IllegalArgumentException("InstanceNorm2d(" + numFeatures + "): num_features must be positive");
      }
      if (!(eps > 0) || Double.isInfinite(eps)) {
        throw new IllegalArgumentException("InstanceNorm2d(" + numFeatures + "): eps must be a positive number, got " + eps);
      }
    }

    @Override
    public int numGroups() {
      return numFeatures;
    }

    @Override
    public int numChannels() {
      return numFeatures;
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
      return "InstanceNorm2d(" + numFeatures + ", eps=" + pythonRepr(eps) + ", momentum=0.1, affine=" + (affine ? "True" : "False")
          + ", track_running_stats=False)";
    }
  }

  /** {@code numFeatures} channels, eps 1e-5, no weight or bias: PyTorch's defaults. */
  public InstanceNorm2d(int numFeatures) {
    this(numFeatures, 1e-5, false);
  }

  public InstanceNorm2d(int numFeatures, double eps, boolean affine) {
    super(new Spec(numFeatures, eps, affine));
  }

  @Override
  public Tensor forward(Tensor x) {
    if (x.dim() == 3) { // unbatched [C, H, W]
      return forward(x.unsqueeze(0)).squeeze(0);
    }
    return super.forward(x);
  }
}
