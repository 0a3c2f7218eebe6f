package dev.kiln.runtime.optim;

import dev.kiln.runtime.Tensor;
import dev.kiln.runtime.io.StateEncoding;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * Steps several schedulers of one optimizer together, like PyTorch's {@code ChainedScheduler}: each
 * {@link #step()} steps every one in order, so their chainable forms compose (a {@link ConstantLR}
 * warmup times an {@link ExponentialLR} decay, say). Its rates are the groups' rates after the last
 * one; its state dict holds them as {@code _last_lr.<g>} and every scheduler's state under {@code
 * _schedulers.<i>.}.
 */
public final class ChainedScheduler implements SteppedScheduler {
  private static final String LAST_LRS = "_last_lr.";
  private final List<SteppedScheduler> schedulers;
  private List<Double> lastLrs;

  /** {@code schedulers}: at least one, all of one optimizer. */
  public ChainedScheduler(List<? extends SteppedScheduler> schedulers) {
    if (schedulers == null || schedulers.isEmpty()) {
      throw new IllegalArgumentException("ChainedScheduler: expected at least one scheduler, got " + schedulers);
    }
    for (int i = 0; i < schedulers.size(); i++) {
      Objects.requireNonNull(schedulers.get(i), "ChainedScheduler: the scheduler at index " + i + " is null");
      if (schedulers.get(i).optimizer() != schedulers.get(0).optimizer()) {
        throw new IllegalArgumentException("ChainedScheduler: expects all schedulers to belong to the same optimizer, but got"
            + " schedulers at index 0 and " + i + " to be different");
      }
    }
    this.schedulers = List.copyOf(schedulers);
    this.lastLrs = groupLrs();
  }

  private List<Double> groupLrs() {
    List<Double> lrs = new ArrayList<>();
    for (ParamGroup g : optimizer().paramGroups()) {
      lrs.add(g.lr());
    }
    return List.copyOf(lrs);
  }

  @Override
  public void step() {
    for (SteppedScheduler s : schedulers) {
      s.step();
    }
    lastLrs = groupLrs();
  }

  /** The schedulers, in order. */
  public List<SteppedScheduler> schedulers() {
    return schedulers;
  }

  @Override
  public Optimizer optimizer() {
    return schedulers.get(0).optimizer();
  }

  @Override
  public List<Double> getLastLr() {
    return lastLrs;
  }

  @Override
  public Map<String, Tensor> stateDict() {
    Map<String, Tensor> out = new java.util.LinkedHashMap<>();
    for (int g = 0; g < lastLrs.size(); g++) {
      out.put(LAST_LRS + g, StateEncoding.ofDouble(lastLrs.get(g)));
    }
    SequentialLR.putChildren(out, schedulers);
    return out;
  }

  /** Restores every scheduler's state and the last rates; the groups' rates come back with the optimizer's own state. */
  @Override
  public void loadStateDict(Map<String, Tensor> state) {
    try {
      Map<String, Tensor> rest = new java.util.LinkedHashMap<>(state);
      List<Double> lasts = new ArrayList<>();
      for (int g = 0; g < optimizer().paramGroups().size(); g++) {
        lasts.add(StateEncoding.toDouble(state, LAST_LRS + g));
        rest.remove(LAST_LRS + g);
      }
      SequentialLR.loadChildren(rest, schedulers);
      lastLrs = List.copyOf(lasts);
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException("ChainedScheduler: " + e.getMessage(), e);
    }
  }
}
