package dev.kiln.runtime.optim;

/**
 * Anneals each group's learning rate from its base rate down to {@code etaMin} over {@code tMax}
 * epochs along half a cosine, like PyTorch's {@code CosineAnnealingLR}. Unless a rate is changed
 * by hand, the rates are its closed form ({@code _get_closed_form_lr}), up to float rounding:
 *
 * <pre>
 *   lr = etaMin + (base_lr - etaMin) * (1 + cos(pi * epoch / tMax)) / 2
 * </pre>
 *
 * Past {@code tMax} the cosine goes on, so the rate climbs back to the base rate at
 * {@code 2 * tMax}, as in PyTorch.
 */
public final class CosineAnnealingLR extends LRScheduler {
  private final int tMax;
  private final double etaMin;

  public CosineAnnealingLR(Optimizer optimizer, int tMax, double etaMin) {
    super(optimizer);
    this.tMax = checkPositive("CosineAnnealingLR", "tMax", tMax);
    if (!(etaMin >= 0) || Double.isInfinite(etaMin)) {
      throw new IllegalArgumentException("CosineAnnealingLR: etaMin must be finite and >= 0, got " + etaMin);
    }
    this.etaMin = etaMin;
  }

  /** With PyTorch's default {@code etaMin} of 0. */
  public CosineAnnealingLR(Optimizer optimizer, int tMax) {
    this(optimizer, tMax, 0.0);
  }

  /**
   * PyTorch's recursive form: the current rate's distance above {@code etaMin} scaled by the
   * closed form's ratio from one epoch to the next, and at the epochs where the cosine turns back up
   * from its minimum (where that ratio divides by zero) the closed form's increase added.
   */
  @Override
  protected double nextLr(int group, double lr, double baseLr, int epoch) {
    if (Math.floorMod(epoch - 1 - tMax, 2 * tMax) == 0) {
      return lr + (baseLr - etaMin) * (1 - Math.cos(Math.PI / tMax)) / 2;
    }
    return (1 + Math.cos(Math.PI * epoch / tMax)) / (1 + Math.cos(Math.PI * (epoch - 1) / tMax)) * (lr - etaMin)
        + etaMin;
  }

  @Override
  protected double lrAt(int group, double baseLr, int epoch) {
    return etaMin + (baseLr - etaMin) * (1 + Math.cos(Math.PI * epoch / tMax)) / 2;
  }
}
