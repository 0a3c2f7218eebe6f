package dev.kiln.runtime.optim;

import dev.kiln.runtime.Tensor;
import java.util.List;

/**
 * Adam (Kingma and Ba) with PyTorch's {@code torch.optim.Adam} update, weight decay being an L2
 * penalty added to the gradient. For each parameter {@code p}, at its own step {@code t}:
 *
 * <pre>
 *   g = grad + weightDecay * p
 *   m = beta1 * m + (1 - beta1) * g
 *   v = beta2 * v + (1 - beta2) * g * g
 *   vmax = max(vmax, v)                                   (amsgrad; then v' = vmax, else v' = v)
 *   denom = sqrt(v') / sqrt(1 - beta2^t) + eps
 *   p = p - lr / (1 - beta1^t) * m / denom
 * </pre>
 *
 * Defaults as in PyTorch: betas (0.9, 0.999), eps 1e-8, weight decay 0, no amsgrad.
 * {@code new Adam(net.parameters(), 1e-3).betas(0.9, 0.98).amsgrad(true)}.
 */
public final class Adam extends AdamBase<Adam> {
  public Adam(List<Tensor> params, double lr) {
    super("Adam", params, lr, 0.0, false);
  }
}
