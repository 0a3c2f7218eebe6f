package dev.kiln.runtime.optim;

/**
 * The momentum settings {@link OneCycleLR.Builder} and {@link CyclicLR.Builder} share: whether the
 * schedule cycles each group's momentum, and between which values.
 *
 * @param <B> the builder's own type, which the setters return
 */
abstract class MomentumCycleBuilder<B extends MomentumCycleBuilder<B>> {
  boolean cycleMomentum = true;
  double[] baseMomentums;
  double[] maxMomentums;

  MomentumCycleBuilder(double baseMomentum, double maxMomentum) {
    this.baseMomentums = new double[] {baseMomentum};
    this.maxMomentums = new double[] {maxMomentum};
  }

  @SuppressWarnings("unchecked")
  private B self() {
    return (B) this;
  }

  /** Whether to cycle each group's momentum (SGD's momentum, Adam's beta1) against the rate; true by default. */
  public B cycleMomentum(boolean cycleMomentum) {
    this.cycleMomentum = cycleMomentum;
    return self();
  }

  /** Momentum at the peak rate (one value, or one per group). */
  public B baseMomentum(double... baseMomentum) {
    this.baseMomentums = baseMomentum.clone();
    return self();
  }

  /** Momentum at the lowest rates (one value, or one per group). */
  public B maxMomentum(double... maxMomentum) {
    this.maxMomentums = maxMomentum.clone();
    return self();
  }
}
