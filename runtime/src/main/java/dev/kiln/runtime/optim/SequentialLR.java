package dev.kiln.runtime.optim;

import dev.kiln.runtime.Tensor;
import dev.kiln.runtime.io.StateEncoding;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * Runs schedulers one after the other, switching at milestone epochs, like PyTorch's {@code
 * SequentialLR}: the usual warmup, then a decay.
 *
 * <pre>
 *   var warmup = new LinearLR(opt, 0.01, 1.0, 5);
 *   var cosine = new CosineAnnealingLR(opt, 95);
 *   var sched = new SequentialLR(opt, List.of(warmup, cosine), List.of(5));
 * </pre>
 *
 * It behaves as PyTorch 1.13's, quirks included: construction puts every group back at its {@code
 * initial_lr} and redoes the first scheduler's epoch 0 (undoing what constructing the others did);
 * at milestone {@code m} the next scheduler restarts at its epoch 0 with its closed form ({@code
 * step(0)} in PyTorch: a {@link LinearLR} there jumps to {@code base_lr * startFactor}, not to where
 * the warmup ended), and steps on from there. Its state dict holds its epoch, its last rates and
 * every scheduler's state under {@code _schedulers.<i>.}.
 */
public final class SequentialLR implements SteppedScheduler {
  private static final String LAST_EPOCH = "last_epoch";
  private static final String LAST_LRS = "_last_lr.";
  private static final String SCHEDULERS = "_schedulers.";

  private final Optimizer optimizer;
  private final List<LRScheduler> schedulers;
  private final List<Integer> milestones;
  private int lastEpoch;
  private List<Double> lastLrs;

  /**
   * {@code schedulers}: at least one, all of {@code optimizer}; {@code milestones}: one fewer, the
   * epochs at which the next one takes over, increasing and >= 1.
   */
  public SequentialLR(Optimizer optimizer, List<? extends LRScheduler> schedulers, List<Integer> milestones) {
    this.optimizer = Objects.requireNonNull(optimizer, "SequentialLR: optimizer is null");
    if (schedulers == null || schedulers.isEmpty()) {
      throw new IllegalArgumentException("SequentialLR: expected at least one scheduler, got " + schedulers);
    }
    for (int i = 0; i < schedulers.size(); i++) {
      if (schedulers.get(i) == null || schedulers.get(i).optimizer() != optimizer) {
        throw new IllegalArgumentException("SequentialLR: expects all schedulers to belong to the same optimizer, but got"
            + " the scheduler at index " + i + " to be " + (schedulers.get(i) == null ? "null" : "of a different optimizer"));
      }
    }
    if (milestones == null || milestones.size() != schedulers.size() - 1) {
      throw new IllegalArgumentException("SequentialLR: expects the number of schedulers to be one more than the number of "
          + "milestones, but got " + schedulers.size() + " scheduler(s) and " + (milestones == null ? "null" : milestones.size())
          + " milestone(s)");
    }
    for (int i = 0; i < milestones.size(); i++) {
      Integer m = milestones.get(i);
      if (m == null || m < 1 || (i > 0 && m <= milestones.get(i - 1))) {
        throw new IllegalArgumentException("SequentialLR: milestones must be increasing epochs >= 1, got " + milestones);
      }
    }
    this.schedulers = List.copyOf(schedulers);
    this.milestones = List.copyOf(milestones);
    for (ParamGroup g : optimizer.paramGroups()) {
      g.lr(g.initialLrOrCurrent());
    }
    this.schedulers.get(0).initialStep();
    this.lastLrs = this.schedulers.get(0).getLastLr();
  }

  @Override
  public void step() {
    lastEpoch++;
    int idx = 0;
    while (idx < milestones.size() && milestones.get(idx) <= lastEpoch) { // bisect_right
      idx++;
    }
    LRScheduler s = schedulers.get(idx);
    if (idx > 0 && milestones.get(idx - 1) == lastEpoch) {
      s.restartAtZero();
    } else {
      s.step();
    }
    lastLrs = s.getLastLr();
  }

  /** The number of {@link #step()} calls so far. */
  public int lastEpoch() {
    return lastEpoch;
  }

  /** The schedulers, in order. */
  public List<LRScheduler> schedulers() {
    return schedulers;
  }

  @Override
  public Optimizer optimizer() {
    return optimizer;
  }

  @Override
  public List<Double> getLastLr() {
    return lastLrs;
  }

  @Override
  public Map<String, Tensor> stateDict() {
    Map<String, Tensor> out = new LinkedHashMap<>();
    out.put(LAST_EPOCH, StateEncoding.ofInt(lastEpoch));
    for (int g = 0; g < lastLrs.size(); g++) {
      out.put(LAST_LRS + g, StateEncoding.ofDouble(lastLrs.get(g)));
    }
    putChildren(out, schedulers);
    return out;
  }

  @Override
  public void loadStateDict(Map<String, Tensor> state) {
    try {
      int epoch = StateEncoding.toInt(state, LAST_EPOCH);
      if (epoch < 0) {
        throw new IllegalArgumentException(LAST_EPOCH + " is " + epoch + ", not an epoch");
      }
      Map<String, Tensor> rest = new LinkedHashMap<>(state);
      rest.remove(LAST_EPOCH);
      List<Double> lasts = new ArrayList<>();
      for (int g = 0; g < optimizer.paramGroups().size(); g++) {
        lasts.add(StateEncoding.toDouble(state, LAST_LRS + g));
        rest.remove(LAST_LRS + g);
      }
      loadChildren(rest, schedulers);
      lastEpoch = epoch;
      lastLrs = List.copyOf(lasts);
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException(e.getMessage().startsWith("SequentialLR") ? e.getMessage()
          : "SequentialLR: " + e.getMessage(), e);
    }
  }

  /** Adds each scheduler's state under {@code _schedulers.<i>.}. */
  static void putChildren(Map<String, Tensor> out, List<? extends Scheduler> children) {
    for (int i = 0; i < children.size(); i++) {
      for (Map.Entry<String, Tensor> e : children.get(i).stateDict().entrySet()) {
        out.put(SCHEDULERS + i + "." + e.getKey(), e.getValue());
      }
    }
  }

  /**
   * Loads each scheduler's state from {@code state}'s {@code _schedulers.<i>.} keys (all of its
   * keys must be such); a scheduler that refuses its state puts back the ones loaded before it.
   */
  static void loadChildren(Map<String, Tensor> state, List<? extends Scheduler> children) {
    List<Map<String, Tensor>> parts = new ArrayList<>();
    for (int i = 0; i < children.size(); i++) {
      parts.add(new LinkedHashMap<>());
    }
    for (Map.Entry<String, Tensor> e : state.entrySet()) {
      String key = e.getKey();
      int i = -1;
      int dot = key.indexOf('.', SCHEDULERS.length());
      if (key.startsWith(SCHEDULERS) && dot > 0) {
        try {
          i = Integer.parseInt(key.substring(SCHEDULERS.length(), dot));
        } catch (NumberFormatException ignored) {
          i = -1;
        }
      }
      if (i < 0 || i >= children.size()) {
        throw new IllegalArgumentException("unexpected key " + key + " for " + children.size() + " scheduler(s)");
      }
      parts.get(i).put(key.substring(dot + 1), e.getValue());
    }
    List<Map<String, Tensor>> before = new ArrayList<>();
    for (Scheduler s : children) {
      before.add(s.stateDict());
    }
    for (int i = 0; i < children.size(); i++) {
      try {
        children.get(i).loadStateDict(parts.get(i));
      } catch (IllegalArgumentException e) {
        for (int j = 0; j < i; j++) {
          children.get(j).loadStateDict(before.get(j));
        }
        throw new IllegalArgumentException("scheduler " + i + ": " + e.getMessage(), e);
      }
    }
  }
}
