package dev.kiln.runtime.optim;

import dev.kiln.runtime.Tensor;
import java.util.List;

/**
 * Parameters that share a learning rate, as in PyTorch's {@code optimizer.param_groups}. Change
 * the rate by hand the way the tutorials do every few epochs:
 * {@code opt.paramGroups().forEach(g -> g.lr(g.lr() * 0.1))}.
 */
public final class ParamGroup {
  private final List<Tensor> params;
  private double lr;

  ParamGroup(List<Tensor> params, double lr) {
    this.params = List.copyOf(params);
    lr(lr);
  }

  public List<Tensor> params() {
    return params;
  }

  public double lr() {
    return lr;
  }

  /** Sets this group's learning rate; it must be a finite number of at least zero. */
  public ParamGroup lr(double lr) {
    if (!(lr >= 0) || Double.isInfinite(lr)) {
      throw new IllegalArgumentException("learning rate must be finite and >= 0, got " + lr);
    }
    this.lr = lr;
    return this;
  }
}
