package dev.kiln.dsl;

import dev.kiln.runtime.Tensor;

/**
 * The Poisson negative log-likelihood, as PyTorch's {@code nn.PoissonNLLLoss(log_input=True, full=False, eps=1e-8,
 * reduction='mean')}: for a predicted rate's log {@code input} (or, without {@code logInput}, the rate), {@code
 * exp(input) - target input} (or {@code input - target log(input + eps)}), plus with {@code full} Stirling's
 * approximation {@code target log(target) - target + log(2 pi target) / 2} where the target is above 1; same shapes.
 */
public class PoissonNLLLoss extends Loss {
  private final boolean logInput;
  private final boolean full;
  private final double eps;

  public PoissonNLLLoss() {
    this(true, false, 1e-8, Reduction.MEAN);
  }

  public PoissonNLLLoss(boolean logInput, boolean full, double eps, Reduction reduction) {
    super(reduction);
    if (!Float.isFinite((float) eps)) {
      throw new IllegalArgumentException("PoissonNLLLoss: eps must be a finite float, got " + eps);
    }
    this.logInput = logInput;
    this.full = full;
    this.eps = eps;
  }

  public boolean logInput() {
    return logInput;
  }

  public boolean full() {
    return full;
  }

  public double eps() {
    return eps;
  }

  @Override
  public Tensor apply(Tensor prediction, Tensor target) {
    return F.poissonNllLoss(prediction, target, logInput, full, eps, reduction());
  }

  /** {@code F.poisson_nll_loss}'s per-element losses. */
  static Tensor perElement(Tensor input, Tensor target, boolean logInput, boolean full, double eps) {
    sameShape("poisson_nll_loss", "input", input, "target", target);
    Tensor loss = logInput ? input.exp().sub(target.mul(input)) : input.sub(target.mul(input.add((float) eps).log()));
    if (!full) {
      return loss;
    }
    Tensor stirling = target.mul(target.log()).sub(target).add(target.mul((float) (2 * Math.PI)).log().mul(0.5f));
    return loss.add(stirling.maskedFill(target.le(1f), 0f));
  }
}
