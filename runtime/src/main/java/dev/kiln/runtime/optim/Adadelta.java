package dev.kiln.runtime.optim;

import dev.kiln.runtime.Tensor;
import dev.kiln.runtime.cuda.OptimKernels;
import java.util.List;

/**
 * Adadelta (Zeiler) with PyTorch's {@code torch.optim.Adadelta} update:
 *
 * <pre>
 *   g = grad + weightDecay * p
 *   v = rho * v + (1 - rho) * g * g                              (square_avg)
 *   delta = sqrt(u + eps) / sqrt(v + eps) * g
 *   u = rho * u + (1 - rho) * delta * delta                      (acc_delta)
 *   p = p - lr * delta
 * </pre>
 *
 * Defaults as in PyTorch: rho 0.9, eps 1e-6, no weight decay; PyTorch's default rate is 1.0, as
 * its MNIST example uses: {@code new Adadelta(net.parameters(), 1.0)} with a {@code StepLR(opt, 1, 0.7)}.
 */
public final class Adadelta extends RunningStateOptimizer {
  private double rho = 0.9;
  private double eps = 1e-6;
  private double weightDecay;

  public Adadelta(List<Tensor> params, double lr) {
    super("Adadelta", params, lr, "square_avg", "acc_delta");
  }

  /** Decay rate of the running averages; in [0, 1]. */
  public Adadelta rho(double rho) {
    if (!(rho >= 0 && rho <= 1)) {
      throw new IllegalArgumentException("Adadelta: rho must be in [0, 1], got " + rho);
    }
    this.rho = rho;
    return this;
  }

  /** Term added inside both square roots; finite and >= 0. */
  public Adadelta eps(double eps) {
    this.eps = nonNegative("eps", eps);
    return this;
  }

  /** L2 penalty added to the gradient; finite and >= 0. */
  public Adadelta weightDecay(double weightDecay) {
    this.weightDecay = nonNegative("weight decay", weightDecay);
    return this;
  }

  public double rho() {
    return rho;
  }

  public double eps() {
    return eps;
  }

  @Override
  public double weightDecay() {
    return weightDecay;
  }

  @Override
  boolean keeps(int slot) {
    return true;
  }

  @Override
  long workPerElement() {
    return 10;
  }

  // As PyTorch's CPU kernels round (bit for bit against PyTorch 1.13): mul_ then addcmul_ as one
  // fused multiply-add (x rho + ((1 - rho) a) b), the delta as sqrt(u + eps), divided, then
  // multiplied, and add(x, alpha=-lr) as one fused multiply-add.
  @Override
  void updateRange(float[] p, float[] g, float[][] slots, int from, int to, int step, double lr, float decay) {
    float r = (float) rho, keep = (float) (1 - rho), epsilon = (float) eps, rate = (float) lr;
    float[] v = slots[0], u = slots[1];
    for (int i = from; i < to; i++) {
      float gi = decay == 0f ? g[i] : Math.fma(p[i], decay, g[i]);
      float vi = Math.fma(keep * gi, gi, v[i] * r);
      v[i] = vi;
      float std = (float) Math.sqrt(vi + epsilon);
      float delta = (float) Math.sqrt(u[i] + epsilon) / std * gi;
      u[i] = Math.fma(keep * delta, delta, u[i] * r);
      p[i] = Math.fma(delta, -rate, p[i]);
    }
  }

  @Override
  OptimKernels.Entry entry(long p, long g, long[] slots, int n, int step, double lr) {
    return OptimKernels.Entry.slots(p, g, slots[0], slots[1], 0L, n, 0f);
  }

  @Override
  void launch(List<OptimKernels.Entry> entries, double lr) {
    OptimKernels.adadelta(entries, (float) lr, (float) rho, (float) (1 - rho), (float) eps, (float) weightDecayOf(weightDecay));
  }
}
