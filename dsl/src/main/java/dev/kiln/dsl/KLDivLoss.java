package dev.kiln.dsl;

import dev.kiln.runtime.Ops;
import dev.kiln.runtime.Tensor;

/**
 * The Kullback-Leibler divergence loss, as PyTorch's {@code nn.KLDivLoss(reduction='mean', log_target=False)}: the
 * prediction is log-probabilities, the target probabilities ({@code target (log(target) - prediction)}, 0 where the
 * target is 0) or, with {@code logTarget}, log-probabilities ({@code exp(target) (target - prediction)}); same shapes.
 * Reduced as {@link Reduction} says, or with {@link #batchMean} by the sum over the batch size (PyTorch's {@code
 * 'batchmean'}, the true KL divergence; {@code 'mean'} averages over every element).
 */
public class KLDivLoss extends Loss {
  private final boolean logTarget;
  private final boolean batchMean;

  public KLDivLoss() {
    this(Reduction.MEAN, false);
  }

  public KLDivLoss(Reduction reduction) {
    this(reduction, false);
  }

  public KLDivLoss(Reduction reduction, boolean logTarget) {
    this(reduction, logTarget, false);
  }

  private KLDivLoss(Reduction reduction, boolean logTarget, boolean batchMean) {
    super(reduction);
    this.logTarget = logTarget;
    this.batchMean = batchMean;
  }

  /** PyTorch's {@code reduction='batchmean'}: the summed loss divided by the batch size (dimension 0). */
  public static KLDivLoss batchMean(boolean logTarget) {
    return new KLDivLoss(Reduction.SUM, logTarget, true);
  }

  public boolean logTarget() {
    return logTarget;
  }

  /** Whether the loss is {@code 'batchmean'} (then {@link #reduction()} is {@code SUM}, divided by the batch size). */
  public boolean isBatchMean() {
    return batchMean;
  }

  @Override
  public Tensor apply(Tensor prediction, Tensor target) {
    Tensor loss = perElement(prediction, target, logTarget);
    if (batchMean) {
      return loss.sum().div(prediction.shape().length == 0 ? 1f : (float) prediction.shape()[0]);
    }
    return reduce(loss, reduction());
  }

  /** {@code F.kl_div(input, target, reduction='none', log_target)}. */
  static Tensor perElement(Tensor input, Tensor target, boolean logTarget) {
    sameShape("kl_div", "input", input, "target", target);
    if (logTarget) {
      return target.exp().mul(target.sub(input));
    }
    // xlogy: target log(target) is 0 at target 0; log(1) there keeps the not-taken branch finite (a NaN gradient else)
    Tensor safe = Ops.where(target.eq(0f), Tensor.ones(target.shape()).to(target.device()), target);
    return target.mul(safe.log().sub(input));
  }
}
