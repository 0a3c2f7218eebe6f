package dev.kiln.runtime.optim;

import dev.kiln.runtime.Tensor;
import dev.kiln.runtime.io.StateEncoding;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * Base of the learning-rate schedulers, like PyTorch's {@code torch.optim.lr_scheduler}. On
 * construction it takes each param group's initial rate as that group's base rate (PyTorch's {@code
 * initial_lr}: the group's rate when its first scheduler was made, recorded then) and stands at epoch 0; each {@link #step()} moves to the next
 * epoch and sets every group's rate to {@link #nextLr(int, double, double, int)} of the rate the group
 * has now. Call it once per epoch, after the epoch's optimizer steps:
 *
 * <pre>
 *   var sched = new StepLR(opt, 30, 0.1);
 *   for (int epoch = 0; epoch &lt; 90; epoch++) {
 *     train(opt);          // opt.step() per batch
 *     sched.step();
 *   }
 * </pre>
 *
 * Each step works from the group's current rate, as PyTorch's {@code get_lr()} does (its
 * "chainable" form), so a rate changed by hand between steps carries on: after {@code g.lr(g.lr()
 * * 0.5)} a {@link StepLR} goes on halving from the new rate, and two schedulers on one optimizer
 * compose. Without such changes the rates are PyTorch's closed forms ({@link #lrAt(int, double, int)}),
 * up to float rounding. Every scheduler here but {@link LambdaLR} gives the base rate at epoch 0.
 *
 * <p>{@link #stateDict()} and {@link #loadStateDict(Map)} save and restore the epoch, the base
 * rates and the last rates, so that a resumed run goes on with the same rates.
 */
public abstract class LRScheduler implements SteppedScheduler {
  private static final String LAST_EPOCH = "last_epoch";
  private static final String BASE_LRS = "base_lrs.";
  private static final String LAST_LRS = "_last_lr.";

  private static final System.Logger LOG = System.getLogger("dev.kiln.runtime");

  private final Optimizer optimizer;
  /** Whether the step-order warning was given (once per scheduler, as PyTorch). */
  private boolean warnedOrder;
  private List<Double> baseLrs;
  private List<Double> lastLrs;
  private int lastEpoch;

  protected LRScheduler(Optimizer optimizer) {
    this.optimizer = Objects.requireNonNull(optimizer, getClass().getSimpleName() + ": optimizer is null");
    List<Double> lrs = new ArrayList<>();
    for (ParamGroup g : optimizer.paramGroups()) {
      lrs.add(g.initialLrOrCurrent());
    }
    this.baseLrs = List.copyOf(lrs);
    List<Double> current = new ArrayList<>();
    for (ParamGroup g : optimizer.paramGroups()) {
      current.add(g.lr());
    }
    this.lastLrs = List.copyOf(current);
  }

  /**
   * The learning rate at {@code epoch} (>= 1) of param group {@code group}, whose rate is {@code
   * lr} now, at epoch {@code epoch - 1}, and was {@code baseLr} at construction: PyTorch's {@code
   * get_lr()}.
   */
  protected abstract double nextLr(int group, double lr, double baseLr, int epoch);

  /**
   * The learning rate at {@code epoch} of param group {@code group}, whose rate was {@code baseLr}
   * at construction and never changed by hand: PyTorch's {@code _get_closed_form_lr()}. Used for
   * {@link #getLastLr()} after loading a state saved without the last rates.
   */
  protected abstract double lrAt(int group, double baseLr, int epoch);

  /**
   * PyTorch's {@code get_lr()} at epoch 0, for group {@code group} whose rate is {@code lr}: the
   * rate a scheduler's first (construction) step sets. The group's rate as it is, unless the
   * schedule starts elsewhere ({@link LinearLR}'s {@code lr * startFactor}, ...); a subclass whose
   * epoch 0 differs calls {@link #initialStep()} at the end of its constructor.
   */
  protected double epochZeroLr(int group, double lr, double baseLr) {
    return lr;
  }

  /**
   * The rate PyTorch's {@code step(0)} sets ({@link SequentialLR} at a milestone): the closed form
   * at epoch 0, as PyTorch takes {@code _get_closed_form_lr()} where a scheduler has one.
   */
  protected double restartLr(int group, double lr, double baseLr) {
    return lrAt(group, baseLr, 0);
  }

  /** Called once per {@link #step()} before the rates of {@code epoch} are computed; may refuse the step. */
  protected void beforeStep(int epoch) {}

  /** Called when the schedule goes back to epoch 0 ({@link #initialStep()}, {@link SequentialLR}'s milestones). */
  protected void restart() {}

  /** Called after the rates of {@code epoch} were set (the schedules that also set momentum). */
  protected void afterStep(int epoch) {}

  /** Names of the scheduler's own counters saved in its state dict beside the epoch and rates. */
  protected List<String> extraStateKeys() {
    return List.of();
  }

  /** The value of the counter {@code key} of {@link #extraStateKeys()}. */
  protected double extraState(String key) {
    throw new IllegalArgumentException(key);
  }

  /** Restores the counters of {@link #extraStateKeys()}, each present in {@code values}. */
  protected void loadExtraState(Map<String, Double> values) {}

  /**
   * PyTorch's {@code _initial_step()}: epoch 0 with each group's rate from {@link #epochZeroLr}.
   * Subclasses whose epoch 0 is not the groups' rates call it at the end of their constructors.
   */
  protected final void initialStep() {
    lastEpoch = 0;
    restart();
    List<ParamGroup> groups = optimizer.paramGroups();
    List<Double> lrs = new ArrayList<>(groups.size());
    for (int i = 0; i < groups.size(); i++) {
      lrs.add(epochZeroLr(i, groups.get(i).lr(), baseLrs.get(i)));
    }
    startAt(lrs);
    afterStep(0);
  }

  /** PyTorch's {@code step(0)}: back to epoch 0 with the rates of {@link #restartLr}. */
  final void restartAtZero() {
    lastEpoch = 0;
    restart();
    List<ParamGroup> groups = optimizer.paramGroups();
    List<Double> lrs = new ArrayList<>(groups.size());
    for (int i = 0; i < groups.size(); i++) {
      lrs.add(restartLr(i, groups.get(i).lr(), baseLrs.get(i)));
    }
    startAt(lrs);
    afterStep(0);
  }

  /** Sets the epoch without changing any rate ({@link CosineAnnealingWarmRestarts#step(double)}). */
  protected final void setLastEpoch(int epoch) {
    lastEpoch = epoch;
  }

  /** Replaces the base rates ({@link CyclicLR} takes its own). */
  protected final void setBaseLrs(List<Double> lrs) {
    baseLrs = List.copyOf(lrs);
  }

  /** Moves to the next epoch and sets every param group's learning rate for it. */
  @Override
  public final void step() {
    List<ParamGroup> groups = optimizer.paramGroups();
    if (groups.size() != baseLrs.size()) {
      throw new IllegalStateException(
          getClass().getSimpleName() + ": the optimizer has " + groups.size() + " param groups but had "
              + baseLrs.size() + " when the scheduler was made; make the scheduler after adding groups");
    }
    beforeStep(lastEpoch + 1);
    List<Double> lrs = new ArrayList<>(groups.size());
    for (int i = 0; i < groups.size(); i++) {
      double lr = nextLr(i, groups.get(i).lr(), baseLrs.get(i), lastEpoch + 1);
      if (!(lr >= 0) || Double.isInfinite(lr)) { // checked for every group before any changes
        throw new IllegalStateException(getClass().getSimpleName() + ": epoch " + (lastEpoch + 1) + " would set param group "
            + i + "'s learning rate to " + lr + " (from " + groups.get(i).lr() + "); a rate set by hand may have left the "
            + "schedule's range");
      }
      lrs.add(lr);
    }
    if (optimizer.stepCalls() == 0 && !warnedOrder) {
      warnedOrder = true;
      LOG.log(System.Logger.Level.WARNING, getClass().getSimpleName() + ".step() was called before the optimizer's step(): "
          + "call opt.step() for the epoch's batches first, then the scheduler's step(), or the schedule's first rate is"
          + " skipped (PyTorch warns the same since 1.1.0)");
    }
    lastEpoch++;
    startAt(lrs);
    afterStep(lastEpoch);
  }

  /**
   * Sets each group's rate to {@code lrs} and makes them the last rates: after each step, and at
   * construction for a schedule whose epoch 0 is not the groups' rates then ({@link LambdaLR}'s
   * {@code base_lr * lambda(0)}).
   */
  protected final void startAt(List<Double> lrs) {
    List<ParamGroup> groups = optimizer.paramGroups();
    for (int i = 0; i < groups.size(); i++) {
      groups.get(i).lr(lrs.get(i));
    }
    lastLrs = List.copyOf(lrs);
  }

  /** Each group's rate at {@code epoch} by the closed form: the base rates at 0. */
  private List<Double> closedFormLrsAt(int epoch) {
    List<Double> lrs = new ArrayList<>(baseLrs.size());
    for (int i = 0; i < baseLrs.size(); i++) {
      lrs.add(lrAt(i, baseLrs.get(i), epoch));
    }
    return Collections.unmodifiableList(lrs);
  }

  /**
   * The scheduler's state, like PyTorch's {@code scheduler.state_dict()}: {@code last_epoch} (a
   * rank-0 int32 tensor), each group's base rate as {@code base_lrs.<g>} and the rate the scheduler
   * last set as {@code _last_lr.<g>}, exactly (see {@link StateEncoding}). The schedule's own
   * settings ({@code gamma}, milestones, ...) are not saved: the scheduler that loads the state is
   * built with them.
   */
  @Override
  public final Map<String, Tensor> stateDict() {
    Map<String, Tensor> out = new LinkedHashMap<>();
    out.put(LAST_EPOCH, StateEncoding.ofInt(lastEpoch));
    for (int g = 0; g < baseLrs.size(); g++) {
      out.put(BASE_LRS + g, StateEncoding.ofDouble(baseLrs.get(g)));
    }
    for (int g = 0; g < lastLrs.size(); g++) {
      out.put(LAST_LRS + g, StateEncoding.ofDouble(lastLrs.get(g)));
    }
    for (String key : extraStateKeys()) {
      out.put(key, StateEncoding.ofDouble(extraState(key)));
    }
    return out;
  }

  /**
   * Restores a state written by {@link #stateDict()} for as many param groups: the epoch, the base
   * rates and {@link #getLastLr()}. A state without {@code _last_lr.<g>} (saved before Kiln kept
   * them) gives the closed form's rates. The optimizer's rates are not touched; they come back with
   * its own {@link Optimizer#loadStateDict}, as in PyTorch, and the next {@link #step()} goes on
   * from them. Nothing changes unless the state fits.
   *
   * @throws IllegalArgumentException naming the key that is unexpected, missing or does not fit
   */
  @Override
  public final void loadStateDict(Map<String, Tensor> state) {
    String name = getClass().getSimpleName();
    try {
      int epoch = StateEncoding.toInt(state, LAST_EPOCH);
      if (epoch < 0) {
        throw new IllegalArgumentException(LAST_EPOCH + " is " + epoch + ", not an epoch");
      }
      int groups = baseLrs.size();
      List<String> known = new ArrayList<>(List.of(LAST_EPOCH));
      List<Double> bases = new ArrayList<>();
      for (int g = 0; g < groups; g++) {
        bases.add(StateEncoding.toDouble(state, BASE_LRS + g));
        known.add(BASE_LRS + g);
      }
      List<Double> lasts = null;
      if (state.containsKey(LAST_LRS + 0)) {
        lasts = new ArrayList<>();
        for (int g = 0; g < groups; g++) {
          lasts.add(StateEncoding.toDouble(state, LAST_LRS + g));
          known.add(LAST_LRS + g);
        }
      }
      Map<String, Double> extra = new LinkedHashMap<>();
      for (String key : extraStateKeys()) {
        extra.put(key, StateEncoding.toDouble(state, key));
        known.add(key);
      }
      if (state.size() != known.size()) {
        List<String> unexpected = new ArrayList<>(state.keySet());
        unexpected.removeAll(known);
        throw new IllegalArgumentException("unexpected key(s) " + unexpected + " for " + groups + " param group(s)");
      }
      baseLrs = List.copyOf(bases);
      lastEpoch = epoch;
      lastLrs = lasts != null ? List.copyOf(lasts) : closedFormLrsAt(epoch);
      loadExtraState(extra);
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException(name + ": " + e.getMessage(), e);
    }
  }

  /** The number of {@link #step()} calls so far: 0 after construction. */
  public final int lastEpoch() {
    return lastEpoch;
  }

  /** The learning rate this scheduler last set for each param group (the base rates at epoch 0). */
  @Override
  public final List<Double> getLastLr() {
    return lastLrs;
  }

  /** Each param group's learning rate when the scheduler was made. */
  public final List<Double> baseLrs() {
    return baseLrs;
  }

  @Override
  public final Optimizer optimizer() {
    return optimizer;
  }

  /** Throws unless {@code gamma} is a finite number >= 0 (a negative one would make rates negative). */
  static double checkGamma(String scheduler, double gamma) {
    if (!(gamma >= 0) || Double.isInfinite(gamma)) {
      throw new IllegalArgumentException(scheduler + ": gamma must be finite and >= 0, got " + gamma);
    }
    return gamma;
  }

  /** Throws unless {@code value} is at least 1. */
  static int checkPositive(String scheduler, String what, int value) {
    if (value < 1) {
      throw new IllegalArgumentException(scheduler + ": " + what + " must be >= 1, got " + value);
    }
    return value;
  }
}
