package dev.kiln.runtime.optim;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Objects;

/**
 * Base of the learning-rate schedulers, like PyTorch's {@code torch.optim.lr_scheduler}. On
 * construction it records each param group's current learning rate as that group's base rate
 * (PyTorch's {@code initial_lr}) and stands at epoch 0; each {@link #step()} moves to the next
 * epoch and sets every group's rate to {@link #lrAt(double, int)} of its base rate. Call it once
 * per epoch, after the epoch's optimizer steps:
 *
 * <pre>
 *   var sched = new StepLR(opt, 30, 0.1);
 *   for (int epoch = 0; epoch &lt; 90; epoch++) {
 *     train(opt);          // opt.step() per batch
 *     sched.step();
 *   }
 * </pre>
 *
 * The rates follow PyTorch's closed forms, so a rate set by hand on a group is replaced at the
 * next {@link #step()}. Every scheduler here gives the base rate at epoch 0.
 */
public abstract class LRScheduler {
  private final Optimizer optimizer;
  private final List<Double> baseLrs;
  private List<Double> lastLrs;
  private int lastEpoch;

  protected LRScheduler(Optimizer optimizer) {
    this.optimizer = Objects.requireNonNull(optimizer, getClass().getSimpleName() + ": optimizer is null");
    List<Double> lrs = new ArrayList<>();
    for (ParamGroup g : optimizer.paramGroups()) {
      lrs.add(g.lr());
    }
    this.baseLrs = List.copyOf(lrs);
    this.lastLrs = baseLrs;
  }

  /** The learning rate at {@code epoch} (>= 1) of a group whose rate was {@code baseLr} at epoch 0. */
  protected abstract double lrAt(double baseLr, int epoch);

  /** Moves to the next epoch and sets every param group's learning rate for it. */
  public final void step() {
    List<ParamGroup> groups = optimizer.paramGroups();
    if (groups.size() != baseLrs.size()) {
      throw new IllegalStateException(
          getClass().getSimpleName() + ": the optimizer has " + groups.size() + " param groups but had "
              + baseLrs.size() + " when the scheduler was made; make the scheduler after adding groups");
    }
    lastEpoch++;
    List<Double> lrs = new ArrayList<>(groups.size());
    for (int i = 0; i < groups.size(); i++) {
      double lr = lrAt(baseLrs.get(i), lastEpoch);
      groups.get(i).lr(lr);
      lrs.add(lr);
    }
    lastLrs = Collections.unmodifiableList(lrs);
  }

  /** The number of {@link #step()} calls so far: 0 after construction. */
  public final int lastEpoch() {
    return lastEpoch;
  }

  /** The learning rate this scheduler last set for each param group (the base rates at epoch 0). */
  public final List<Double> getLastLr() {
    return lastLrs;
  }

  /** Each param group's learning rate when the scheduler was made. */
  public final List<Double> baseLrs() {
    return baseLrs;
  }

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
