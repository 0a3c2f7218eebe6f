package dev.kiln.runtime.optim;

import dev.kiln.runtime.Tensor;
import java.util.List;

/**
 * Parameters that share a learning rate, as in PyTorch's {@code optimizer.param_groups}. Change
 * the rate by hand the way the tutorials do every few epochs:
 * {@code opt.paramGroups().forEach(g -> g.lr(g.lr() * 0.1))}. A group may also have a weight decay
 * of its own, PyTorch's {@code {'params': noDecay, 'weight_decay': 0}}: {@code
 * opt.addParamGroup(biases, 0.1).weightDecay(0)}.
 */
public final class ParamGroup {
  private final List<Tensor> params;
  private double lr;
  /** PyTorch's {@code initial_lr}: the rate when the first scheduler was made, the base of every later one. */
  private Double initialLr;
  /** This group's weight decay where it overrides the optimizer's, else null. */
  private Double weightDecay;
  /** This group's momentum (SGD's momentum, Adam's beta1) where it overrides the optimizer's, else null. */
  private Double momentum;

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

  /**
   * The rate this group had when its first learning-rate scheduler was made (PyTorch's {@code
   * initial_lr}), or null before any: a second scheduler on the same optimizer takes it as its base
   * rate, as PyTorch's do, not the rate the first one has set by then.
   */
  public Double initialLr() {
    return initialLr;
  }

  /** Sets PyTorch's {@code initial_lr} ({@link OneCycleLR} sets it to {@code maxLr / divFactor}). */
  void initialLr(double lr) {
    initialLr = lr;
  }

  /**
   * Gives this group a momentum of its own instead of the optimizer's, as PyTorch's {@code
   * group['momentum']} (SGD) or {@code group['betas'][0]} (Adam, AdamW): what {@link OneCycleLR}
   * and {@link CyclicLR} set each step with {@code cycleMomentum}. In [0, 1). Not saved in the
   * optimizer's state dict.
   */
  public ParamGroup momentum(double momentum) {
    if (!(momentum >= 0 && momentum < 1)) {
      throw new IllegalArgumentException("momentum must be in [0, 1), got " + momentum);
    }
    this.momentum = momentum;
    return this;
  }

  /** This group's own momentum (or Adam's beta1), or null where the optimizer's applies. */
  public Double momentum() {
    return momentum;
  }

  /** Records the current rate as the initial one unless one is recorded (PyTorch's {@code setdefault}); returns it. */
  double initialLrOrCurrent() {
    if (initialLr == null) {
      initialLr = lr;
    }
    return initialLr;
  }

  /**
   * Gives this group a weight decay of its own instead of the optimizer's (PyTorch's per-group
   * {@code weight_decay}; every optimizer here has one); finite and >= 0. Not saved in the
   * optimizer's state dict, as the optimizer's own hyperparameters are not: set it when building the
   * optimizer that loads a state.
   */
  public ParamGroup weightDecay(double weightDecay) {
    if (!(weightDecay >= 0) || Double.isInfinite(weightDecay)) {
      throw new IllegalArgumentException("weight decay must be finite and >= 0, got " + weightDecay);
    }
    this.weightDecay = weightDecay;
    return this;
  }

  /** This group's own weight decay, or null where the optimizer's applies. */
  public Double weightDecay() {
    return weightDecay;
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
