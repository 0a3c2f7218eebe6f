package dev.kiln.runtime.optim;

import dev.kiln.runtime.Tensor;
import dev.kiln.runtime.cuda.OptimKernels;
import java.util.List;

/**
 * Adagrad with PyTorch's {@code torch.optim.Adagrad} update, per parameter at its own step {@code t}:
 *
 * <pre>
 *   g = grad + weightDecay * p
 *   clr = lr / (1 + (t - 1) * lrDecay)
 *   sum = sum + g * g                      (starts at initialAccumulatorValue)
 *   p = p - clr * g / (sqrt(sum) + eps)
 * </pre>
 *
 * Defaults as in PyTorch: no learning-rate decay or weight decay, accumulator from 0, eps 1e-10.
 * {@code new Adagrad(net.parameters(), 0.01)}.
 */
public final class Adagrad extends RunningStateOptimizer {
  private double lrDecay;
  private double weightDecay;
  private double initialAccumulatorValue;
  private double eps = 1e-10;

  public Adagrad(List<Tensor> params, double lr) {
    super("Adagrad", params, lr, "sum");
  }

  /** How fast the rate falls with the steps: {@code lr / (1 + (t - 1) lrDecay)}; finite and >= 0. */
  public Adagrad lrDecay(double lrDecay) {
    this.lrDecay = nonNegative("lr decay", lrDecay);
    return this;
  }

  /** L2 penalty added to the gradient; finite and >= 0. */
  public Adagrad weightDecay(double weightDecay) {
    this.weightDecay = nonNegative("weight decay", weightDecay);
    return this;
  }

  /** The value the sum of squared gradients starts at (for parameters not stepped yet); finite and >= 0. */
  public Adagrad initialAccumulatorValue(double value) {
    this.initialAccumulatorValue = nonNegative("initial accumulator value", value);
    return this;
  }

  /** Term added to the denominator; finite and >= 0. */
  public Adagrad eps(double eps) {
    this.eps = nonNegative("eps", eps);
    return this;
  }

  public double lrDecay() {
    return lrDecay;
  }

  @Override
  public double weightDecay() {
    return weightDecay;
  }

  public double initialAccumulatorValue() {
    return initialAccumulatorValue;
  }

  public double eps() {
    return eps;
  }

  @Override
  boolean keeps(int slot) {
    return true;
  }

  @Override
  float initialValue(int slot, double lr) {
    return (float) initialAccumulatorValue;
  }

  @Override
  long workPerElement() {
    return 6;
  }

  /** {@code lr / (1 + (t - 1) lrDecay)} in double, as PyTorch computes it in Python. */
  private double clr(double lr, int step) {
    return lr / (1 + (step - 1) * lrDecay);
  }

  // As PyTorch's CPU kernels round (bit for bit against PyTorch 1.13): add(x, alpha=a) and
  // addcmul_ one fused multiply-add each, addcdiv_ x + (value * a) / b.
  @Override
  void updateRange(float[] p, float[] g, float[][] slots, int from, int to, int step, double lr, float decay) {
    float epsilon = (float) eps, rate = (float) -clr(lr, step);
    float[] sum = slots[0];
    for (int i = from; i < to; i++) {
      float gi = decay == 0f ? g[i] : Math.fma(p[i], decay, g[i]);
      float s = Math.fma(gi, gi, sum[i]);
      sum[i] = s;
      p[i] = p[i] + rate * gi / ((float) Math.sqrt(s) + epsilon); // addcdiv_: self + (value * t1) / t2
    }
  }

  @Override
  OptimKernels.Entry entry(long p, long g, long[] slots, int n, int step, double lr) {
    return OptimKernels.Entry.slots(p, g, slots[0], 0L, 0L, n, (float) -clr(lr, step));
  }

  @Override
  void launch(List<OptimKernels.Entry> entries, double lr) {
    OptimKernels.adagrad(entries, (float) eps, (float) weightDecayOf(weightDecay));
  }
}
