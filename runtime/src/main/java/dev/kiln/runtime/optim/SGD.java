package dev.kiln.runtime.optim;

import dev.kiln.runtime.Tensor;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;

/**
 * Stochastic gradient descent with PyTorch's update rule:
 *
 * <pre>
 *   d = grad + weightDecay * p
 *   buf = d                                      on the first step (no dampening)
 *   buf = momentum * buf + (1 - dampening) * d   afterwards
 *   d = nesterov ? d + momentum * buf : buf      (when momentum != 0)
 *   p = p - lr * d
 * </pre>
 *
 * {@code new SGD(net.parameters(), 0.01).momentum(0.9)}.
 */
public final class SGD extends Optimizer {
  private float momentum;
  private float dampening;
  private float weightDecay;
  private boolean nesterov;
  private final Map<Tensor, float[]> momentumBuffers = new IdentityHashMap<>();

  public SGD(List<Tensor> params, double lr) {
    super(params, lr);
  }

  public SGD momentum(double momentum) {
    if (!(momentum >= 0)) {
      throw new IllegalArgumentException("SGD: momentum must be >= 0, got " + momentum);
    }
    this.momentum = (float) momentum;
    return this;
  }

  public SGD dampening(double dampening) {
    this.dampening = (float) dampening;
    return this;
  }

  public SGD weightDecay(double weightDecay) {
    if (!(weightDecay >= 0)) {
      throw new IllegalArgumentException("SGD: weight decay must be >= 0, got " + weightDecay);
    }
    this.weightDecay = (float) weightDecay;
    return this;
  }

  public SGD nesterov(boolean nesterov) {
    this.nesterov = nesterov;
    return this;
  }

  public double momentum() {
    return momentum;
  }

  @Override
  public void step() {
    if (nesterov && (momentum <= 0 || dampening != 0)) {
      throw new IllegalStateException("SGD: Nesterov momentum requires momentum > 0 and zero dampening");
    }
    super.step();
  }

  @Override
  protected void update(Tensor param, Tensor grad, double lr) {
    float[] p = param.buffer();
    int po = param.offset();
    float[] g = grad.buffer();
    int go = grad.offset();
    int n = param.numel();
    float rate = (float) lr;
    if (momentum == 0f) {
      for (int i = 0; i < n; i++) {
        p[po + i] -= rate * (g[go + i] + weightDecay * p[po + i]);
      }
      return;
    }
    float[] buf = momentumBuffers.get(param);
    boolean first = buf == null;
    if (first) {
      buf = new float[n];
      momentumBuffers.put(param, buf);
    }
    float keep = 1f - dampening;
    for (int i = 0; i < n; i++) {
      float d = g[go + i] + weightDecay * p[po + i];
      float b = first ? d : momentum * buf[i] + keep * d;
      buf[i] = b;
      p[po + i] -= rate * (nesterov ? d + momentum * b : b);
    }
  }
}
