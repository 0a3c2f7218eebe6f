package dev.kiln.runtime.optim;

import dev.kiln.runtime.Tensor;
import dev.kiln.runtime.io.StateEncoding;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * Lowers the learning rate when a metric stops improving, like PyTorch's {@code
 * ReduceLROnPlateau}: after more than {@code patience} epochs in a row without improvement, every
 * group's rate is multiplied by {@code factor} (not below its minimum rate), then {@code cooldown}
 * epochs pass before bad epochs count again. Step it once per epoch with the metric it watches:
 *
 * <pre>
 *   var sched = new ReduceLROnPlateau(opt).factor(0.5).patience(2);
 *   for (int epoch = 1; epoch &lt;= epochs; epoch++) {
 *     train(opt);
 *     sched.step(validationLoss());
 *   }
 * </pre>
 *
 * <p>Improvement is judged as PyTorch does: in {@link Mode#MIN} mode with {@link
 * ThresholdMode#REL}, a value improves on the best so far when it is below {@code best * (1 -
 * threshold)}; with {@link ThresholdMode#ABS}, below {@code best - threshold}; {@link Mode#MAX}
 * mirrors both. A reduction smaller than {@code eps} is not made. A NaN metric never improves, so it
 * counts as a bad epoch. The defaults are PyTorch's: min mode, factor 0.1, patience 10, threshold
 * 1e-4 relative, cooldown 0, minimum rate 0, eps 1e-8. Set them before the first step.
 */
public final class ReduceLROnPlateau implements Scheduler {
  private static final String NAME = "ReduceLROnPlateau";
  private static final String LAST_EPOCH = "last_epoch";
  private static final String BEST = "best";
  private static final String NUM_BAD_EPOCHS = "num_bad_epochs";
  private static final String COOLDOWN_COUNTER = "cooldown_counter";
  private static final String LAST_LRS = "_last_lr.";

  /** Whether the metric should go down (a loss) or up (an accuracy). */
  public enum Mode { MIN, MAX }

  /** Whether {@code threshold} is a fraction of the best value or an amount. */
  public enum ThresholdMode { REL, ABS }

  private final Optimizer optimizer;
  private Mode mode = Mode.MIN;
  private double factor = 0.1;
  private int patience = 10;
  private double threshold = 1e-4;
  private ThresholdMode thresholdMode = ThresholdMode.REL;
  private int cooldown;
  private double[] minLrs;
  private double eps = 1e-8;

  private int lastEpoch;
  private double best = Double.POSITIVE_INFINITY;
  private int numBadEpochs;
  private int cooldownCounter;
  private List<Double> lastLrs;

  public ReduceLROnPlateau(Optimizer optimizer) {
    this.optimizer = Objects.requireNonNull(optimizer, NAME + ": optimizer is null");
    this.minLrs = new double[optimizer.paramGroups().size()];
    this.lastLrs = currentLrs();
  }

  /** {@link Mode#MIN} (the default) for a metric that should fall, {@link Mode#MAX} for one that should rise. */
  public ReduceLROnPlateau mode(Mode mode) {
    beforeFirstStep("mode");
    this.mode = Objects.requireNonNull(mode, NAME + ": mode is null");
    this.best = mode == Mode.MIN ? Double.POSITIVE_INFINITY : Double.NEGATIVE_INFINITY;
    return this;
  }

  /** What each reduction multiplies the rate by, in [0, 1); 0.1 by default. */
  public ReduceLROnPlateau factor(double factor) {
    beforeFirstStep("factor");
    if (!(factor >= 0 && factor < 1)) {
      throw new IllegalArgumentException(NAME + ": factor must be in [0, 1), got " + factor);
    }
    this.factor = factor;
    return this;
  }

  /** How many epochs without improvement are borne; the rate falls on the next one. 10 by default. */
  public ReduceLROnPlateau patience(int patience) {
    beforeFirstStep("patience");
    this.patience = nonNegative("patience", patience);
    return this;
  }

  /** How much better than the best a value must be to count as an improvement; 1e-4 relative by default. */
  public ReduceLROnPlateau threshold(double threshold, ThresholdMode thresholdMode) {
    beforeFirstStep("threshold");
    if (!(threshold >= 0) || Double.isInfinite(threshold)) {
      throw new IllegalArgumentException(NAME + ": threshold must be finite and >= 0, got " + threshold);
    }
    this.threshold = threshold;
    this.thresholdMode = Objects.requireNonNull(thresholdMode, NAME + ": threshold mode is null");
    return this;
  }

  /** Epochs after a reduction during which bad epochs do not count; 0 by default. */
  public ReduceLROnPlateau cooldown(int cooldown) {
    beforeFirstStep("cooldown");
    this.cooldown = nonNegative("cooldown", cooldown);
    return this;
  }

  /** The rate no reduction goes below, for every group; 0 by default. */
  public ReduceLROnPlateau minLr(double minLr) {
    double[] all = new double[minLrs.length];
    Arrays.fill(all, minLr);
    return minLrs(all);
  }

  /** Each param group's minimum rate, in group order. */
  public ReduceLROnPlateau minLrs(double... minLrs) {
    beforeFirstStep("minimum rates");
    if (minLrs.length != optimizer.paramGroups().size()) {
      throw new IllegalArgumentException(NAME + ": expected " + optimizer.paramGroups().size()
          + " minimum rates (one per param group), got " + minLrs.length);
    }
    for (double m : minLrs) {
      if (!(m >= 0) || Double.isInfinite(m)) {
        throw new IllegalArgumentException(NAME + ": minimum rates must be finite and >= 0, got " + Arrays.toString(minLrs));
      }
    }
    this.minLrs = minLrs.clone();
    return this;
  }

  /** The smallest change of rate worth making; 1e-8 by default. */
  public ReduceLROnPlateau eps(double eps) {
    beforeFirstStep("eps");
    if (!(eps >= 0) || Double.isInfinite(eps)) {
      throw new IllegalArgumentException(NAME + ": eps must be finite and >= 0, got " + eps);
    }
    this.eps = eps;
    return this;
  }

  /** Ends an epoch whose watched metric was {@code metric}, lowering the rates when it is time. */
  public void step(double metric) {
    List<ParamGroup> groups = optimizer.paramGroups();
    if (groups.size() != minLrs.length) {
      throw new IllegalStateException(NAME + ": the optimizer has " + groups.size() + " param groups but had "
          + minLrs.length + " when the scheduler was made; make the scheduler after adding groups");
    }
    lastEpoch++;
    if (isBetter(metric)) {
      best = metric;
      numBadEpochs = 0;
    } else {
      numBadEpochs++;
    }
    if (cooldownCounter > 0) {
      cooldownCounter--;
      numBadEpochs = 0;
    }
    if (numBadEpochs > patience) {
      for (int g = 0; g < groups.size(); g++) {
        double old = groups.get(g).lr();
        double lowered = Math.max(old * factor, minLrs[g]);
        if (old - lowered > eps) {
          groups.get(g).lr(lowered);
        }
      }
      cooldownCounter = cooldown;
      numBadEpochs = 0;
    }
    lastLrs = currentLrs();
  }

  private boolean isBetter(double value) {
    if (mode == Mode.MIN) {
      return thresholdMode == ThresholdMode.REL ? value < best * (1 - threshold) : value < best - threshold;
    }
    return thresholdMode == ThresholdMode.REL ? value > best * (threshold + 1) : value > best + threshold;
  }

  /** The best metric so far (infinity in min mode, minus infinity in max mode, before any). */
  public double best() {
    return best;
  }

  /** Epochs in a row without improvement, as counted now. */
  public int numBadEpochs() {
    return numBadEpochs;
  }

  /** The number of {@link #step(double)} calls so far. */
  public int lastEpoch() {
    return lastEpoch;
  }

  @Override
  public Optimizer optimizer() {
    return optimizer;
  }

  @Override
  public List<Double> getLastLr() {
    return lastLrs;
  }

  /**
   * {@code last_epoch}, {@code num_bad_epochs} and {@code cooldown_counter} (rank-0 int32), {@code
   * best} and each group's last rate as {@code _last_lr.<g>} (exactly, see {@link StateEncoding}).
   */
  @Override
  public Map<String, Tensor> stateDict() {
    Map<String, Tensor> out = new LinkedHashMap<>();
    out.put(LAST_EPOCH, StateEncoding.ofInt(lastEpoch));
    out.put(BEST, StateEncoding.ofDouble(best));
    out.put(NUM_BAD_EPOCHS, StateEncoding.ofInt(numBadEpochs));
    out.put(COOLDOWN_COUNTER, StateEncoding.ofInt(cooldownCounter));
    for (int g = 0; g < lastLrs.size(); g++) {
      out.put(LAST_LRS + g, StateEncoding.ofDouble(lastLrs.get(g)));
    }
    return out;
  }

  @Override
  public void loadStateDict(Map<String, Tensor> state) {
    try {
      int epoch = counter(state, LAST_EPOCH);
      double savedBest = StateEncoding.toDouble(state, BEST);
      if (savedBest == (mode == Mode.MIN ? Double.NEGATIVE_INFINITY : Double.POSITIVE_INFINITY) || Double.isNaN(savedBest)) {
        throw new IllegalArgumentException(BEST + " is " + savedBest + ", which no " + mode + "-mode scheduler keeps; "
            + "was the state saved by one in the other mode?");
      }
      int bad = counter(state, NUM_BAD_EPOCHS);
      int cooling = counter(state, COOLDOWN_COUNTER);
      List<String> known = new ArrayList<>(List.of(LAST_EPOCH, BEST, NUM_BAD_EPOCHS, COOLDOWN_COUNTER));
      List<Double> lasts = new ArrayList<>();
      for (int g = 0; g < minLrs.length; g++) {
        lasts.add(StateEncoding.toDouble(state, LAST_LRS + g));
        known.add(LAST_LRS + g);
      }
      if (state.size() != known.size()) {
        List<String> unexpected = new ArrayList<>(state.keySet());
        unexpected.removeAll(known);
        throw new IllegalArgumentException(
            "unexpected key(s) " + unexpected + " for " + minLrs.length + " param group(s)");
      }
      lastEpoch = epoch;
      best = savedBest;
      numBadEpochs = bad;
      cooldownCounter = cooling;
      lastLrs = Collections.unmodifiableList(lasts);
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException(NAME + ": " + e.getMessage(), e);
    }
  }

  private static int counter(Map<String, Tensor> state, String key) {
    int value = StateEncoding.toInt(state, key);
    if (value < 0) {
      throw new IllegalArgumentException(key + " is " + value + ", not a count");
    }
    return value;
  }

  private List<Double> currentLrs() {
    List<Double> lrs = new ArrayList<>();
    for (ParamGroup g : optimizer.paramGroups()) {
      lrs.add(g.lr());
    }
    return Collections.unmodifiableList(lrs);
  }

  private void beforeFirstStep(String what) {
    if (lastEpoch > 0) {
      throw new IllegalStateException(NAME + ": set the " + what + " before the first step");
    }
  }

  private static int nonNegative(String what, int value) {
    if (value < 0) {
      throw new IllegalArgumentException(NAME + ": " + what + " must be >= 0, got " + value);
    }
    return value;
  }
}
