package dev.kiln.runtime.optim;

import dev.kiln.runtime.Tensor;
import dev.kiln.runtime.cuda.OptimKernels;
import java.util.List;

/**
 * RMSprop with PyTorch's {@code torch.optim.RMSprop} update:
 *
 * <pre>
 *   g = grad + weightDecay * p
 *   v = alpha * v + (1 - alpha) * g * g                       (square_avg)
 *   avg = sqrt(v) + eps                                       or, centered:
 *   gAvg = alpha * gAvg + (1 - alpha) * g;  avg = sqrt(v - gAvg^2) + eps     (grad_avg)
 *   buf = momentum * buf + g / avg;  p = p - lr * buf         (momentum_buffer, when momentum > 0)
 *   p = p - lr * g / avg                                      (otherwise)
 * </pre>
 *
 * Defaults as in PyTorch: alpha 0.99, eps 1e-8, no weight decay, momentum 0, not centered.
 * {@code new RMSprop(net.parameters(), 0.01).momentum(0.9).centered(true)}.
 */
public final class RMSprop extends RunningStateOptimizer {
  private double alpha = 0.99;
  private double eps = 1e-8;
  private double weightDecay;
  private double momentum;
  private boolean centered;

  public RMSprop(List<Tensor> params, double lr) {
    super("RMSprop", params, lr, "square_avg", "momentum_buffer", "grad_avg");
  }

  /** Smoothing constant of the running average of the squared gradient; finite and >= 0. */
  public RMSprop alpha(double alpha) {
    this.alpha = nonNegative("alpha", alpha);
    return this;
  }

  /** Term added to the denominator; finite and >= 0. */
  public RMSprop eps(double eps) {
    this.eps = nonNegative("eps", eps);
    return this;
  }

  /** L2 penalty added to the gradient; finite and >= 0. */
  public RMSprop weightDecay(double weightDecay) {
    this.weightDecay = nonNegative("weight decay", weightDecay);
    return this;
  }

  /** Momentum factor; finite and >= 0 (0: none). */
  public RMSprop momentum(double momentum) {
    this.momentum = nonNegative("momentum", momentum);
    return this;
  }

  /** Whether to normalise by the estimated variance of the gradient (the mean subtracted). */
  public RMSprop centered(boolean centered) {
    this.centered = centered;
    return this;
  }

  public double alpha() {
    return alpha;
  }

  public double eps() {
    return eps;
  }

  @Override
  public double weightDecay() {
    return weightDecay;
  }

  public double momentum() {
    return momentum;
  }

  public boolean centered() {
    return centered;
  }

  @Override
  boolean keeps(int slot) {
    return slot == 0 || slot == 1 && momentum > 0 || slot == 2 && centered;
  }

  @Override
  long workPerElement() {
    return 8;
  }

  // Each PyTorch op rounds as its CPU kernel does (bit for bit against PyTorch 1.13): mul_ a
  // product, addcmul_ (x + (v a) b) and add(x, alpha=a) one fused multiply-add each, addcdiv_ x + (v a) / b.
  @Override
  void updateRange(float[] p, float[] g, float[][] slots, int from, int to, int step, double lr, float decay) {
    float a = (float) alpha, keep = (float) (1 - alpha), epsilon = (float) eps;
    float mu = (float) momentum, rate = (float) lr;
    float[] v = slots[0], buf = slots[1], gAvg = slots[2];
    for (int i = from; i < to; i++) {
      float gi = decay == 0f ? g[i] : Math.fma(p[i], decay, g[i]);
      float vi = Math.fma(keep * gi, gi, v[i] * a);
      v[i] = vi;
      float avg;
      if (gAvg != null) {
        float ga = Math.fma(gi, keep, gAvg[i] * a);
        gAvg[i] = ga;
        avg = (float) Math.sqrt(Math.fma(-ga, ga, vi)) + epsilon;
      } else {
        avg = (float) Math.sqrt(vi) + epsilon;
      }
      if (buf != null) {
        float b = buf[i] * mu + gi / avg;
        buf[i] = b;
        p[i] = Math.fma(b, -rate, p[i]);
      } else {
        p[i] = p[i] + -rate * gi / avg; // addcdiv_: self + (value * t1) / t2
      }
    }
  }

  @Override
  OptimKernels.Entry entry(long p, long g, long[] slots, int n, int step, double lr) {
    return OptimKernels.Entry.slots(p, g, slots[0], slots[1], slots[2], n, 0f);
  }

  @Override
  void launch(List<OptimKernels.Entry> entries, double lr) {
    OptimKernels.rmsprop(entries, (float) lr, (float) alpha, (float) (1 - alpha), (float) eps, (float) weightDecayOf(weightDecay), (float) momentum);
  }
}
