package dev.kiln.runtime.optim;

import dev.kiln.runtime.Tensor;
import java.util.List;

/**
 * AdamW (Loshchilov and Hutter): Adam with decoupled weight decay, PyTorch's
 * {@code torch.optim.AdamW} update. For each parameter {@code p}, at its own step {@code t}:
 *
 * <pre>
 *   p = p * (1 - lr * weightDecay)
 *   m = beta1 * m + (1 - beta1) * grad
 *   v = beta2 * v + (1 - beta2) * grad * grad
 *   vmax = max(vmax, v)                                   (amsgrad; then v' = vmax, else v' = v)
 *   denom = sqrt(v') / sqrt(1 - beta2^t) + eps
 *   p = p - lr / (1 - beta1^t) * m / denom
 * </pre>
 *
 * Defaults as in PyTorch: betas (0.9, 0.999), eps 1e-8, weight decay 0.01, no amsgrad.
 * {@code new AdamW(net.parameters(), 1e-3).weightDecay(0.05)}.
 */
public final class AdamW extends AdamBase<AdamW> {
  public AdamW(List<Tensor> params, double lr) {
    super("AdamW", params, lr, 0.01, true);
  }
}
