package dev.kiln.runtime.optim;

import dev.kiln.runtime.Tensor;
import dev.kiln.runtime.cuda.OptimKernels;
import java.util.List;

/**
 * Averaged stochastic gradient descent with PyTorch 1.13's {@code torch.optim.ASGD} update, per parameter at its own
 * step {@code t} with its own scalars {@code eta} (the step size, starting at the group's rate) and {@code mu} (the
 * averaging rate, starting at 1):
 *
 * <pre>
 *   g = grad + weightDecay * p
 *   p = p * (1 - lambd * eta)
 *   p = p - eta * g
 *   ax = p                          if mu == 1
 *   ax = ax + (p - ax) * mu         else
 *   eta = lr / (1 + lambd * lr * t)^alpha;   mu = 1 / max(1, t - t0)
 * </pre>
 *
 * The running average {@code ax} is the state ({@link #average(Tensor)} reads it), not the parameter, as in PyTorch.
 * The state dict keeps {@code step}, {@code eta}, {@code mu} (0-dimensional) and {@code ax}, PyTorch's keys. Defaults
 * as in PyTorch: lr 0.01 (give it), lambd 1e-4, alpha 0.75, t0 1e6, no weight decay. The float operations are
 * PyTorch's CPU ops' in order, so values agree bit for bit.
 */
public final class ASGD extends RunningStateOptimizer {
  private double lambd = 1e-4;
  private double alpha = 0.75;
  private double t0 = 1e6;
  private double weightDecay;

  public ASGD(List<Tensor> params, double lr) {
    super("ASGD", params, lr, "ax");
  }

  /** The decay term: each step first scales the parameter by {@code 1 - lambd * eta}; finite. */
  public ASGD lambd(double lambd) {
    this.lambd = finite("lambd", lambd);
    return this;
  }

  /** The power of the step size's decay, {@code eta = lr / (1 + lambd lr t)^alpha}; finite. */
  public ASGD alpha(double alpha) {
    this.alpha = finite("alpha", alpha);
    return this;
  }

  /** The step after which the average starts ({@code mu = 1 / max(1, t - t0)}); finite. */
  public ASGD t0(double t0) {
    this.t0 = finite("t0", t0);
    return this;
  }

  /** L2 penalty added to the gradient; finite and >= 0. */
  public ASGD weightDecay(double weightDecay) {
    this.weightDecay = nonNegative("weight decay", weightDecay);
    return this;
  }

  private static double finite(String what, double value) {
    if (!Double.isFinite(value)) {
      throw new IllegalArgumentException("ASGD: " + what + " must be finite, got " + value);
    }
    return value;
  }

  public double lambd() {
    return lambd;
  }

  public double alpha() {
    return alpha;
  }

  public double t0() {
    return t0;
  }

  @Override
  public double weightDecay() {
    return weightDecay;
  }

  /** The running average {@code ax} of {@code param} (a copy), or null before its first step. */
  public Tensor average(Tensor param) {
    return parameterState(param).get("ax");
  }

  @Override
  boolean keeps(int slot) {
    return true;
  }

  @Override
  String[] scalarNames() {
    return new String[] {"eta", "mu"};
  }

  @Override
  float initialScalar(int i, double lr) {
    return i == 0 ? (float) lr : 1f;
  }

  // PyTorch rounds the new eta and mu to float32 (0-dimensional tensors of the default dtype).
  @Override
  void advanceScalars(float[] scalars, int step, double lr) {
    scalars[0] = (float) (lr / Math.pow(1 + lambd * lr * step, alpha));
    scalars[1] = (float) (1 / Math.max(1, step - t0));
  }

  @Override
  long workPerElement() {
    return 6;
  }

  @Override
  void updateRange(float[] p, float[] g, float[][] slots, int from, int to, int step, double lr, float decay) {
    throw new AssertionError("ASGD steps with its scalars");
  }

  // As PyTorch's ops round: mul_(1 - lambd * eta) by the float of the double product, add_(g, alpha=-eta) one fma,
  // then sub, mul by mu and add.
  @Override
  void updateRange(float[] p, float[] g, float[][] slots, float[] scalars, int from, int to, int step, double lr,
      float decay) {
    float shrink = (float) (1 - lambd * scalars[0]);
    float rate = (float) -(double) scalars[0];
    float mu = scalars[1];
    float[] ax = slots[0];
    for (int i = from; i < to; i++) {
      float gi = decay == 0f ? g[i] : Math.fma(p[i], decay, g[i]);
      float pi = Math.fma(gi, rate, p[i] * shrink);
      p[i] = pi;
      ax[i] = mu == 1f ? pi : ax[i] + (pi - ax[i]) * mu;
    }
  }

  @Override
  OptimKernels.Entry entry(long p, long g, long[] slots, int n, int step, double lr) {
    throw new AssertionError("ASGD steps with its scalars");
  }

  @Override
  OptimKernels.Entry entry(long p, long g, long[] slots, float[] scalars, int n, int step, double lr) {
    return OptimKernels.Entry.slots(p, g, slots[0], 0L, n, (float) (1 - lambd * scalars[0]), (float) -(double) scalars[0],
        scalars[1]);
  }

  @Override
  void launch(List<OptimKernels.Entry> entries, double lr) {
    OptimKernels.asgd(entries, (float) weightDecayOf(weightDecay));
  }
}
