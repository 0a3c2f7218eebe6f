package dev.kiln.runtime.optim;

import java.util.ArrayList;
import java.util.List;

/**
 * The 1cycle policy, like PyTorch's {@code OneCycleLR}: each group's rate climbs from {@code maxLr /
 * divFactor} to {@code maxLr} over the first {@code pctStart} of {@code totalSteps}, then anneals to
 * {@code maxLr / divFactor / finalDivFactor} (with {@code threePhase}, back down to the start rate
 * symmetrically first, then to the minimum). Momentum (SGD's, or Adam's beta1) cycles the other way
 * between {@code maxMomentum} and {@code baseMomentum} with {@code cycleMomentum}. It steps once per
 * batch. As PyTorch's, it takes {@code totalSteps} calls of {@link #step()} after construction (the
 * last one lies one step past the cycle's end, where the rate is no longer used) and refuses one
 * more; where that last step's rate would be negative (a linear anneal, PyTorch sets it) it is 0.
 *
 * <pre>
 *   var sched = OneCycleLR.builder(opt, 0.1).epochs(10, batchesPerEpoch).build();
 *   for (...) { opt.step(); sched.step(); }
 * </pre>
 *
 * Construction sets each group's PyTorch {@code initial_lr} to {@code maxLr / divFactor} (the base
 * rate of every later scheduler on the optimizer) and its rate to it. The rates are a function of
 * the step alone (no chainable form, as in PyTorch).
 */
public final class OneCycleLR extends LRScheduler {
  /** Anneals from start to end as pct goes from 0 to 1. */
  public enum Anneal {
    COS, LINEAR;

    double apply(double start, double end, double pct) {
      if (this == COS) {
        double cosOut = Math.cos(Math.PI * pct) + 1;
        return end + (start - end) / 2.0 * cosOut;
      }
      return (end - start) * pct + start;
    }
  }

  /** One phase: its last step and which of the group's values it anneals between (0 initial, 1 max, 2 min). */
  private record Phase(double endStep, int startLr, int endLr, boolean momentumUp) {}

  private final int totalSteps;
  private final Anneal anneal;
  private final List<Phase> phases;
  private final double[][] lrs; // per group: initial, max, min
  private final boolean cycleMomentum;
  private final double[] maxMomentums;
  private final double[] baseMomentums;

  private OneCycleLR(Builder b) {
    super(b.optimizer);
    String name = "OneCycleLR";
    if (b.totalSteps != null) {
      totalSteps = checkPositive(name, "totalSteps", b.totalSteps);
    } else if (b.epochs != null) {
      totalSteps = Math.multiplyExact(checkPositive(name, "epochs", b.epochs), checkPositive(name, "stepsPerEpoch", b.stepsPerEpoch));
    } else {
      throw new IllegalArgumentException(name + ": define either totalSteps or (epochs and stepsPerEpoch)");
    }
    if (!(b.pctStart >= 0 && b.pctStart <= 1)) {
      throw new IllegalArgumentException(name + ": expected pctStart between 0 and 1, got " + b.pctStart);
    }
    if (!(b.divFactor > 0) || Double.isInfinite(b.divFactor)) {
      throw new IllegalArgumentException(name + ": divFactor must be finite and > 0, got " + b.divFactor);
    }
    if (!(b.finalDivFactor > 0) || Double.isInfinite(b.finalDivFactor)) {
      throw new IllegalArgumentException(name + ": finalDivFactor must be finite and > 0, got " + b.finalDivFactor);
    }
    this.anneal = b.anneal;
    double p = b.pctStart * totalSteps;
    phases = b.threePhase
        ? List.of(new Phase(p - 1, 0, 1, false), new Phase(2 * p - 2, 1, 0, true), new Phase(totalSteps - 1, 0, 2, true))
        : List.of(new Phase(p - 1, 0, 1, false), new Phase(totalSteps - 1, 1, 2, true));
    List<ParamGroup> groups = b.optimizer.paramGroups();
    double[] maxLrs = perGroup(name, "maxLr", groups.size(), b.maxLrs);
    for (int g = 0; g < maxLrs.length; g++) {
      if (!(maxLrs[g] >= 0) || Double.isInfinite(maxLrs[g])) {
        throw new IllegalArgumentException(name + ": maxLr must be finite and >= 0, got " + maxLrs[g] + " for param group " + g);
      }
    }
    cycleMomentum = b.cycleMomentum;
    if (cycleMomentum) {
      if (b.optimizer.momentumKind() == null) {
        throw new IllegalArgumentException(name + ": " + b.optimizer.getClass().getSimpleName()
            + " has no momentum or betas to cycle; pass cycleMomentum(false)");
      }
      maxMomentums = checkMomenta(name, "maxMomentum", perGroup(name, "maxMomentum", groups.size(), b.maxMomentums));
      baseMomentums = checkMomenta(name, "baseMomentum", perGroup(name, "baseMomentum", groups.size(), b.baseMomentums));
    } else {
      maxMomentums = null;
      baseMomentums = null;
    }
    lrs = new double[groups.size()][];
    List<Double> bases = new ArrayList<>();
    for (int g = 0; g < groups.size(); g++) {
      double initial = maxLrs[g] / b.divFactor;
      lrs[g] = new double[] {initial, maxLrs[g], initial / b.finalDivFactor};
      groups.get(g).initialLr(initial);
      bases.add(initial);
      if (cycleMomentum) {
        groups.get(g).momentum(maxMomentums[g]);
      }
    }
    setBaseLrs(bases);
    initialStep();
  }

  static double[] perGroup(String scheduler, String what, int groups, double[] values) {
    if (values.length == 1) {
      double[] all = new double[groups];
      java.util.Arrays.fill(all, values[0]);
      return all;
    }
    if (values.length != groups) {
      throw new IllegalArgumentException(scheduler + ": expected " + groups + " values for " + what + ", got " + values.length);
    }
    return values.clone();
  }

  static double[] checkMomenta(String scheduler, String what, double[] values) {
    for (double m : values) {
      if (!(m >= 0 && m < 1)) {
        throw new IllegalArgumentException(scheduler + ": " + what + " must be in [0, 1), got " + m);
      }
    }
    return values;
  }

  /** A OneCycleLR peaking at {@code maxLr} for every group (or one rate per group). */
  public static Builder builder(Optimizer optimizer, double... maxLr) {
    return new Builder(optimizer, maxLr);
  }

  /** OneCycleLR's settings, PyTorch's defaults unless set (momentum between 0.85 and 0.95). */
  public static final class Builder extends MomentumCycleBuilder<Builder> {
    private final Optimizer optimizer;
    private final double[] maxLrs;
    private Integer totalSteps;
    private Integer epochs;
    private Integer stepsPerEpoch;
    private double pctStart = 0.3;
    private Anneal anneal = Anneal.COS;
    private double divFactor = 25;
    private double finalDivFactor = 1e4;
    private boolean threePhase;

    private Builder(Optimizer optimizer, double[] maxLrs) {
      super(0.85, 0.95);
      this.optimizer = java.util.Objects.requireNonNull(optimizer, "OneCycleLR: optimizer is null");
      this.maxLrs = maxLrs.clone();
    }

    public Builder totalSteps(int totalSteps) {
      this.totalSteps = totalSteps;
      return this;
    }

    /** {@code totalSteps = epochs * stepsPerEpoch}, used unless {@link #totalSteps} is given. */
    public Builder epochs(int epochs, int stepsPerEpoch) {
      this.epochs = epochs;
      this.stepsPerEpoch = stepsPerEpoch;
      return this;
    }

    /** The part of the cycle spent raising the rate; 0.3 by default. */
    public Builder pctStart(double pctStart) {
      this.pctStart = pctStart;
      return this;
    }

    public Builder anneal(Anneal anneal) {
      this.anneal = java.util.Objects.requireNonNull(anneal, "OneCycleLR: anneal is null");
      return this;
    }

    /** Start rate = maxLr / divFactor; 25 by default. */
    public Builder divFactor(double divFactor) {
      this.divFactor = divFactor;
      return this;
    }

    /** Final rate = start rate / finalDivFactor; 1e4 by default. */
    public Builder finalDivFactor(double finalDivFactor) {
      this.finalDivFactor = finalDivFactor;
      return this;
    }

    public Builder threePhase(boolean threePhase) {
      this.threePhase = threePhase;
      return this;
    }

    public OneCycleLR build() {
      return new OneCycleLR(this);
    }
  }

  /** The number of steps the cycle lasts. */
  public int totalSteps() {
    return totalSteps;
  }

  @Override
  protected void beforeStep(int epoch) {
    if (epoch > totalSteps) {
      throw new IllegalStateException("OneCycleLR: tried to step " + (epoch + 1) + " times; the specified number of total"
          + " steps is " + totalSteps);
    }
  }

  @Override
  protected double epochZeroLr(int group, double lr, double baseLr) {
    return lrAt(group, baseLr, 0);
  }

  @Override
  protected double nextLr(int group, double lr, double baseLr, int epoch) {
    return lrAt(group, baseLr, epoch);
  }

  /** The phase that {@code step} falls in and the fraction of it done, as PyTorch finds them. */
  private double[] phaseAt(int step) {
    double startStep = 0;
    for (int i = 0; i < phases.size(); i++) {
      double endStep = phases.get(i).endStep();
      if (step <= endStep || i == phases.size() - 1) {
        return new double[] {i, (step - startStep) / (endStep - startStep)};
      }
      startStep = endStep;
    }
    throw new AssertionError();
  }

  @Override
  protected double lrAt(int group, double baseLr, int epoch) {
    double[] at = phaseAt(epoch);
    Phase ph = phases.get((int) at[0]);
    // Step totalSteps (the last one allowed, as in PyTorch) lies past the cycle's end; a linear
    // anneal goes below zero there, which PyTorch sets and Kiln's groups refuse: 0 instead.
    return Math.max(0.0, anneal.apply(lrs[group][ph.startLr()], lrs[group][ph.endLr()], at[1]));
  }

  @Override
  protected void afterStep(int epoch) {
    if (!cycleMomentum) {
      return;
    }
    double[] at = phaseAt(epoch);
    Phase ph = phases.get((int) at[0]);
    List<ParamGroup> groups = optimizer().paramGroups();
    for (int g = 0; g < groups.size(); g++) {
      boolean thirdPhase = phases.size() == 3 && at[0] == 2;
      double start = ph.momentumUp() ? baseMomentums[g] : maxMomentums[g];
      double end = ph.momentumUp() ? maxMomentums[g] : baseMomentums[g];
      if (thirdPhase) {
        start = maxMomentums[g];
        end = maxMomentums[g];
      }
      groups.get(g).momentum(anneal.apply(start, end, at[1]));
    }
  }
}
