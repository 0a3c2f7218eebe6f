package dev.kiln.runtime.optim;

import java.util.List;
import java.util.Map;

/**
 * Cosine annealing with warm restarts (SGDR), like PyTorch's {@code CosineAnnealingWarmRestarts}:
 * each group's rate falls from its base rate to {@code etaMin} along half a cosine over a cycle of
 * {@code T_i} epochs, then jumps back to the base rate; the first cycle is {@code t0} epochs and
 * each next one {@code tMult} times longer:
 *
 * <pre>
 *   lr = etaMin + (base_lr - etaMin) * (1 + cos(pi * T_cur / T_i)) / 2
 * </pre>
 *
 * {@link #step()} moves one epoch on; {@link #step(double)} jumps to an epoch, fractional ones
 * included, for a step per batch: {@code sched.step(epoch + (double) batch / batches)}, as
 * PyTorch's docs show. The rates do not depend on the rates the groups have (PyTorch has no
 * chainable form here): a rate changed by hand is overwritten at the next step. {@code T_cur} and
 * {@code T_i} are saved in the state dict.
 */
public final class CosineAnnealingWarmRestarts extends LRScheduler {
  private static final String T_I = "T_i";
  private static final String T_CUR = "T_cur";

  private final int t0;
  private final int tMult;
  private final double etaMin;
  /** Epochs since the last restart, fractional after {@link #step(double)}. */
  private double tCur;
  /** Length of the current cycle. */
  private double tI;

  /** {@code t0} >= 1, {@code tMult} >= 1, {@code etaMin} finite and >= 0. */
  public CosineAnnealingWarmRestarts(Optimizer optimizer, int t0, int tMult, double etaMin) {
    super(optimizer);
    if (t0 < 1) {
      throw new IllegalArgumentException("CosineAnnealingWarmRestarts: expected a positive integer T_0, got " + t0);
    }
    if (tMult < 1) {
      throw new IllegalArgumentException("CosineAnnealingWarmRestarts: expected an integer T_mult >= 1, got " + tMult);
    }
    if (!(etaMin >= 0) || Double.isInfinite(etaMin)) {
      throw new IllegalArgumentException("CosineAnnealingWarmRestarts: etaMin must be finite and >= 0, got " + etaMin);
    }
    this.t0 = t0;
    this.tMult = tMult;
    this.etaMin = etaMin;
    initialStep();
  }

  /** With PyTorch's defaults {@code tMult} 1 and {@code etaMin} 0. */
  public CosineAnnealingWarmRestarts(Optimizer optimizer, int t0) {
    this(optimizer, t0, 1, 0.0);
  }

  @Override
  protected void restart() {
    tCur = 0;
    tI = t0;
  }

  @Override
  protected double epochZeroLr(int group, double lr, double baseLr) {
    return rate(baseLr);
  }

  @Override
  protected void beforeStep(int epoch) {
    tCur = tCur + 1;
    if (tCur >= tI) {
      tCur = tCur - tI;
      tI = tI * tMult;
    }
  }

  @Override
  protected double nextLr(int group, double lr, double baseLr, int epoch) {
    return rate(baseLr);
  }

  private double rate(double baseLr) {
    return etaMin + (baseLr - etaMin) * (1 + Math.cos(Math.PI * tCur / tI)) / 2;
  }

  /**
   * Jumps to {@code epoch} (fractional ones included) and sets the rates there, as PyTorch's {@code
   * step(epoch)}: {@link #lastEpoch()} becomes {@code floor(epoch)}.
   *
   * @throws IllegalArgumentException for a negative or non-finite epoch
   */
  public void step(double epoch) {
    if (!(epoch >= 0) || Double.isInfinite(epoch)) {
      throw new IllegalArgumentException("CosineAnnealingWarmRestarts: expected a non-negative epoch, got " + epoch);
    }
    moveTo(epoch);
    setLastEpoch((int) Math.floor(epoch));
    List<ParamGroup> groups = optimizer().paramGroups();
    List<Double> lrs = new java.util.ArrayList<>(groups.size());
    for (int i = 0; i < groups.size(); i++) {
      lrs.add(rate(baseLrs().get(i)));
    }
    startAt(lrs);
  }

  /** PyTorch's {@code T_cur} and {@code T_i} at {@code epoch}. */
  private void moveTo(double epoch) {
    if (epoch >= t0) {
      if (tMult == 1) {
        tCur = epoch % t0;
      } else {
        int n = (int) (Math.log(epoch / t0 * (tMult - 1) + 1) / Math.log(tMult));
        tCur = epoch - t0 * (Math.pow(tMult, n) - 1) / (tMult - 1);
        tI = t0 * Math.pow(tMult, n);
      }
    } else {
      tI = t0;
      tCur = epoch;
    }
  }

  @Override
  protected double lrAt(int group, double baseLr, int epoch) {
    double savedCur = tCur;
    double savedI = tI;
    try {
      moveTo(epoch);
      return rate(baseLr);
    } finally {
      tCur = savedCur;
      tI = savedI;
    }
  }

  @Override
  protected List<String> extraStateKeys() {
    return List.of(T_I, T_CUR);
  }

  @Override
  protected double extraState(String key) {
    return key.equals(T_I) ? tI : tCur;
  }

  @Override
  protected void loadExtraState(Map<String, Double> values) {
    tI = values.get(T_I);
    tCur = values.get(T_CUR);
  }
}
