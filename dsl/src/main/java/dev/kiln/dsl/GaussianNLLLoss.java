package dev.kiln.dsl;

import dev.kiln.runtime.Shapes;
import dev.kiln.runtime.Tensor;
import java.util.Arrays;

/**
 * The Gaussian negative log-likelihood, as PyTorch's {@code nn.GaussianNLLLoss(full=False, eps=1e-6,
 * reduction='mean')}: a predicted mean {@code input} and variance {@code var} against {@code target}, {@code (log(var)
 * + (input - target)^2 / var) / 2} (plus {@code log(2 pi) / 2} when {@code full}); {@code var} has the input's shape, or
 * lacks its last dimension or has it 1 (one variance shared). The variance is clamped up to {@code eps} for the values
 * only (its gradient passes as if unclamped, as PyTorch's). {@link #apply(Tensor, Tensor, Tensor)}.
 */
public class GaussianNLLLoss extends Loss {
  private final boolean full;
  private final double eps;

  public GaussianNLLLoss() {
    this(false, 1e-6, Reduction.MEAN);
  }

  public GaussianNLLLoss(boolean full, double eps, Reduction reduction) {
    super(reduction);
    if (!(eps > 0) || !Float.isFinite((float) eps)) {
      throw new IllegalArgumentException("GaussianNLLLoss: eps must be a finite float above 0, got " + eps);
    }
    this.full = full;
    this.eps = eps;
  }

  public boolean full() {
    return full;
  }

  public double eps() {
    return eps;
  }

  /** The loss of the predicted means {@code input} and variances {@code var} against {@code target}. */
  public Tensor apply(Tensor input, Tensor target, Tensor var) {
    return F.gaussianNllLoss(input, target, var, full, eps, reduction());
  }

  /** @throws IllegalArgumentException always: the loss takes three tensors */
  @Override
  public Tensor apply(Tensor prediction, Tensor target) {
    throw threeInputs(this, "input, target, var");
  }

  /** {@code F.gaussian_nll_loss}'s per-element losses. */
  static Tensor perElement(Tensor input, Tensor target, Tensor var, boolean full, double eps) {
    sameShape("gaussian_nll_loss", "input", input, "target", target);
    int[] in = input.shape(), v = var.shape();
    int n = in.length;
    if (!Arrays.equals(in, v)) {
      if (n > 0 && Arrays.equals(Arrays.copyOf(in, n - 1), v)) {
        var = var.unsqueeze(-1);
      } else if (!(n > 0 && v.length == n && v[n - 1] == 1 && Arrays.equals(Arrays.copyOf(in, n - 1), Arrays.copyOf(v, n - 1)))) {
        throw new IllegalArgumentException("gaussian_nll_loss: var is of incorrect size: " + Shapes.toString(v) + " for input "
            + Shapes.toString(in) + " (the input's shape, or it without its last dimension or with that 1)");
      }
    }
    for (float f : var.toFloatArray()) {
      if (f < 0) {
        throw new IllegalArgumentException("gaussian_nll_loss: var has negative entry/entries");
      }
    }
    Tensor clamped = var.add(var.clampMin((float) eps).sub(var).detach()); // the values clamped, the gradient var's own
    Tensor loss = clamped.log().add(input.sub(target).square().div(clamped)).mul(0.5f);
    return full ? loss.add((float) (0.5 * Math.log(2 * Math.PI))) : loss;
  }
}
