package dev.kiln.dsl;

import dev.kiln.runtime.Ops;
import dev.kiln.runtime.Tensor;

/**
 * What {@link GroupNorm} and {@link InstanceNorm2d} share: a per-channel {@code weight} and {@code bias} (ones and
 * zeros at first, state_dict keys {@code weight} and {@code bias}; none without affine) and a forward that checks the
 * input against the spec's shape rule, then runs {@link Ops#groupNorm} with the spec's groups and eps.
 */
abstract class GroupNormLayer<S extends GroupNorm.Options> extends Layer<S> {
  private final Tensor weight;
  private final Tensor bias;

  GroupNormLayer(S spec) {
    super(spec);
    weight = spec.affine() ? registerParameter("weight", Tensor.ones(spec.numChannels()).requiresGrad(true)) : null;
    bias = spec.affine() ? registerParameter("bias", Tensor.zeros(spec.numChannels()).requiresGrad(true)) : null;
  }

  /** The per-channel scale ({@code [C]}), or null without affine. */
  public Tensor weight() {
    return weight;
  }

  /** The per-channel shift ({@code [C]}), or null without affine. */
  public Tensor bias() {
    return bias;
  }

  @Override
  public Tensor forward(Tensor x) {
    outputShape(x.shape());
    S s = spec();
    return Ops.groupNorm(x, s.numGroups(), weight, bias, s.eps());
  }
}
