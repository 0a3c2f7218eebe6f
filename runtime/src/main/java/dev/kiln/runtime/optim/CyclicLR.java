package dev.kiln.runtime.optim;

import java.util.ArrayList;
import java.util.List;
import java.util.Objects;

/**
 * Cyclical learning rates, like PyTorch's {@code CyclicLR}: each group's rate goes from {@code
 * baseLr} up to {@code maxLr} over {@code stepSizeUp} steps and back over {@code stepSizeDown}, the
 * cycle's height scaled by the mode: {@link Mode#TRIANGULAR} (constant), {@link Mode#TRIANGULAR2}
 * (halved each cycle) or {@link Mode#EXP_RANGE} ({@code gamma^step}). With {@code cycleMomentum}
 * (the default, as in PyTorch) the optimizer's momentum cycles the other way between {@code
 * maxMomentum} and {@code baseMomentum}; that needs an optimizer with a {@code momentum} (SGD:
 * PyTorch 1.13 refuses Adam's betas here too). It steps once per batch.
 *
 * <pre>
 *   var sched = CyclicLR.builder(opt, 0.001, 0.1).stepSizeUp(2000).build();
 * </pre>
 *
 * Construction sets each group's rate to {@code baseLr} and its momentum to {@code maxMomentum}.
 * The rates are a function of the step alone (no chainable form, as in PyTorch).
 */
public final class CyclicLR extends LRScheduler {
  /** How the cycle's amplitude changes. */
  public enum Mode {
    /** The same amplitude every cycle. */
    TRIANGULAR,
    /** The amplitude halves each cycle. */
    TRIANGULAR2,
    /** The amplitude times {@code gamma^step}. */
    EXP_RANGE
  }

  private final double[] maxLrs;
  private final double totalSize;
  private final double stepRatio;
  private final Mode mode;
  private final double gamma;
  private final boolean cycleMomentum;
  private final double[] baseMomentums;
  private final double[] maxMomentums;

  private CyclicLR(Builder b) {
    super(startAtBaseLrs(b));
    String name = "CyclicLR";
    List<ParamGroup> groups = b.optimizer.paramGroups();
    maxLrs = OneCycleLR.perGroup(name, "maxLr", groups.size(), b.maxLrs);
    for (int g = 0; g < groups.size(); g++) {
      if (!(maxLrs[g] >= 0) || Double.isInfinite(maxLrs[g])) {
        throw new IllegalArgumentException(name + ": maxLr must be finite and >= 0, got " + maxLrs[g] + " for param group " + g);
      }
    }
    if (b.stepSizeUp < 1) {
      throw new IllegalArgumentException(name + ": stepSizeUp must be >= 1, got " + b.stepSizeUp);
    }
    int down = b.stepSizeDown == null ? b.stepSizeUp : b.stepSizeDown;
    if (down < 0) {
      throw new IllegalArgumentException(name + ": stepSizeDown must be >= 0, got " + down);
    }
    totalSize = (double) b.stepSizeUp + down;
    stepRatio = b.stepSizeUp / totalSize;
    mode = b.mode;
    if (!(b.gamma > 0) || Double.isInfinite(b.gamma)) {
      throw new IllegalArgumentException(name + ": gamma must be finite and > 0, got " + b.gamma);
    }
    gamma = b.gamma;
    cycleMomentum = b.cycleMomentum;
    if (cycleMomentum) {
      if (!"momentum".equals(b.optimizer.momentumKind())) {
        throw new IllegalArgumentException(name + ": " + b.optimizer.getClass().getSimpleName()
            + " has no momentum to cycle (PyTorch 1.13's CyclicLR needs one: SGD); pass cycleMomentum(false)");
      }
      baseMomentums = OneCycleLR.checkMomenta(name, "baseMomentum", OneCycleLR.perGroup(name, "baseMomentum", groups.size(), b.baseMomentums));
      maxMomentums = OneCycleLR.checkMomenta(name, "maxMomentum", OneCycleLR.perGroup(name, "maxMomentum", groups.size(), b.maxMomentums));
    } else {
      baseMomentums = null;
      maxMomentums = null;
    }
    List<Double> bases = new ArrayList<>();
    for (double lr : OneCycleLR.perGroup(name, "baseLr", groups.size(), b.baseLrs)) {
      bases.add(lr);
    }
    setBaseLrs(bases);
    initialStep();
  }

  /**
   * Sets each group's rate to its {@code baseLr} before the scheduler records its rates, as
   * PyTorch's does (so a group's {@code initial_lr} becomes {@code baseLr}); returns the optimizer.
   */
  private static Optimizer startAtBaseLrs(Builder b) {
    List<ParamGroup> groups = b.optimizer.paramGroups();
    double[] baseLrs = OneCycleLR.perGroup("CyclicLR", "baseLr", groups.size(), b.baseLrs);
    for (int g = 0; g < groups.size(); g++) {
      if (!(baseLrs[g] >= 0) || Double.isInfinite(baseLrs[g])) {
        throw new IllegalArgumentException("CyclicLR: baseLr must be finite and >= 0, got " + baseLrs[g] + " for param group " + g);
      }
    }
    for (int g = 0; g < groups.size(); g++) {
      groups.get(g).lr(baseLrs[g]);
    }
    return b.optimizer;
  }

  /** A CyclicLR between {@code baseLr} and {@code maxLr} (one value for every group). */
  public static Builder builder(Optimizer optimizer, double baseLr, double maxLr) {
    return new Builder(optimizer, new double[] {baseLr}, new double[] {maxLr});
  }

  /** A CyclicLR with a base and a maximum rate per param group. */
  public static Builder builder(Optimizer optimizer, double[] baseLrs, double[] maxLrs) {
    return new Builder(optimizer, baseLrs.clone(), maxLrs.clone());
  }

  /** CyclicLR's settings, PyTorch's defaults unless set (momentum between 0.8 and 0.9). */
  public static final class Builder extends MomentumCycleBuilder<Builder> {
    private final Optimizer optimizer;
    private final double[] baseLrs;
    private final double[] maxLrs;
    private int stepSizeUp = 2000;
    private Integer stepSizeDown;
    private Mode mode = Mode.TRIANGULAR;
    private double gamma = 1.0;

    private Builder(Optimizer optimizer, double[] baseLrs, double[] maxLrs) {
      super(0.8, 0.9);
      this.optimizer = Objects.requireNonNull(optimizer, "CyclicLR: optimizer is null");
      this.baseLrs = baseLrs;
      this.maxLrs = maxLrs;
    }

    /** Steps from the base rate up to the maximum; 2000 by default. */
    public Builder stepSizeUp(int stepSizeUp) {
      this.stepSizeUp = stepSizeUp;
      return this;
    }

    /** Steps back down; {@code stepSizeUp} by default. */
    public Builder stepSizeDown(int stepSizeDown) {
      this.stepSizeDown = stepSizeDown;
      return this;
    }

    public Builder mode(Mode mode) {
      this.mode = Objects.requireNonNull(mode, "CyclicLR: mode is null");
      return this;
    }

    /** {@link Mode#EXP_RANGE}'s base; 1 by default. */
    public Builder gamma(double gamma) {
      this.gamma = gamma;
      return this;
    }

    public CyclicLR build() {
      return new CyclicLR(this);
    }
  }

  /** PyTorch's scale function of the mode at {@code step}. */
  private double scale(int step) {
    double cycle = Math.floor(1 + step / totalSize);
    return switch (mode) {
      case TRIANGULAR -> 1.;
      case TRIANGULAR2 -> 1 / Math.pow(2., cycle - 1);
      case EXP_RANGE -> Math.pow(gamma, step);
    };
  }

  private double scaleFactor(int step) {
    double cycle = Math.floor(1 + step / totalSize);
    double x = 1. + step / totalSize - cycle;
    return x <= stepRatio ? x / stepRatio : (x - 1) / (stepRatio - 1);
  }

  @Override
  protected double epochZeroLr(int group, double lr, double baseLr) {
    return lrAt(group, baseLr, 0);
  }

  @Override
  protected double nextLr(int group, double lr, double baseLr, int epoch) {
    return lrAt(group, baseLr, epoch);
  }

  @Override
  protected double lrAt(int group, double baseLr, int epoch) {
    double baseHeight = (maxLrs[group] - baseLr) * scaleFactor(epoch);
    return baseLr + baseHeight * scale(epoch);
  }

  @Override
  protected void afterStep(int epoch) {
    if (!cycleMomentum) {
      return;
    }
    List<ParamGroup> groups = optimizer().paramGroups();
    for (int g = 0; g < groups.size(); g++) {
      double baseHeight = (maxMomentums[g] - baseMomentums[g]) * scaleFactor(epoch);
      groups.get(g).momentum(maxMomentums[g] - baseHeight * scale(epoch));
    }
  }
}
