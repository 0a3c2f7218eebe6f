package dev.kiln.runtime.optim;

import dev.kiln.runtime.Tensor;
import java.util.ArrayList;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;

/** Base of the optimizers: parameter groups, {@link #zeroGrad()} and {@link #step()}. */
public abstract class Optimizer {
  private final List<ParamGroup> groups = new ArrayList<>();
  private final Map<Tensor, Boolean> seen = new IdentityHashMap<>();

  protected Optimizer(List<Tensor> params, double lr) {
    addParamGroup(params, lr);
  }

  /** Adds parameters with a learning rate of their own. A tensor may belong to one group only. */
  public final ParamGroup addParamGroup(List<Tensor> params, double lr) {
    if (params.isEmpty()) {
      throw new IllegalArgumentException(getClass().getSimpleName() + ": got an empty parameter list");
    }
    for (int i = 0; i < params.size(); i++) {
      Tensor p = params.get(i);
      if (!p.requiresGrad() || !p.isLeaf()) {
        throw new IllegalArgumentException(
            getClass().getSimpleName() + ": parameter " + i + " is not a leaf tensor that requires grad");
      }
      if (seen.put(p, Boolean.TRUE) != null) {
        throw new IllegalArgumentException(
            getClass().getSimpleName() + ": parameter " + i + " appears in more than one place");
      }
    }
    ParamGroup g = new ParamGroup(params, lr);
    groups.add(g);
    return g;
  }

  public final List<ParamGroup> paramGroups() {
    return Collections.unmodifiableList(groups);
  }

  /**
   * Sets every parameter's gradient to zero in place (PyTorch 1.13's default
   * {@code zero_grad(set_to_none=False)}): gradients keep their memory, and a gradient held in
   * native memory is cleared there without a copy. Gradients not created yet stay absent.
   */
  public void zeroGrad() {
    for (ParamGroup g : groups) {
      for (Tensor p : g.params()) {
        if (p.grad() != null) {
          p.grad().zero();
        }
      }
    }
  }

  /** Updates every parameter that has a gradient; parameters without one are left alone. */
  public void step() {
    for (ParamGroup g : groups) {
      for (Tensor p : g.params()) {
        if (p.grad() != null) {
          update(p, p.grad(), g.lr());
        }
      }
    }
  }

  /** Applies one update to {@code param} in place. */
  protected abstract void update(Tensor param, Tensor grad, double lr);
}
