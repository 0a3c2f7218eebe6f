package dev.kiln.runtime.optim;

import dev.kiln.runtime.Tensor;
import dev.kiln.runtime.cpu.Blas;
import dev.kiln.runtime.cpu.Parallel;
import dev.kiln.runtime.cuda.OptimKernels;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import org.bytedeco.javacpp.FloatPointer;

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
  private final Map<Tensor, Tensor> momentumBuffers = new IdentityHashMap<>();
  private FloatPointer scratch; // native d for weight decay / Nesterov, grown as needed

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

  /** {@code momentum_buffer}, once the parameter has been stepped with momentum. */
  @Override
  protected Map<String, Tensor> parameterState(Tensor param) {
    Tensor buf = momentumBuffers.get(param);
    return buf == null ? Map.of() : Map.of("momentum_buffer", Tensor.wrap(buf.toFloatArray(), buf.shape()));
  }

  @Override
  protected void loadParameterStates(List<ParamState> states) {
    Map<Tensor, Tensor> loaded = new IdentityHashMap<>();
    for (ParamState s : states) {
      s.requireOnly("momentum_buffer");
      if (!s.isEmpty()) {
        loaded.put(s.param(), Tensor.wrap(s.floats("momentum_buffer"), s.param().shape()));
      }
    }
    momentumBuffers.clear();
    momentumBuffers.putAll(loaded);
  }

  @Override
  public void step() {
    if (nesterov && (momentum <= 0 || dampening != 0)) {
      throw new IllegalStateException("SGD: Nesterov momentum requires momentum > 0 and zero dampening");
    }
    super.step();
  }

  @Override
  protected OptimKernels.Entry cudaEntry(Tensor param, Tensor grad, double lr) {
    boolean first = mu() != 0f && !momentumBuffers.containsKey(param);
    Tensor buf = momentumBuffer(param);
    return OptimKernels.Entry.sgd(param.writeCuda(), grad.readCuda(), buf == null ? 0L : buf.writeCuda(), param.numel(), first);
  }

  @Override
  protected void stepOnCuda(List<OptimKernels.Entry> entries, double lr) {
    OptimKernels.sgd(entries, (float) lr, mu(), dampening, (float) weightDecayOf(weightDecay), nesterov);
  }

  /** The momentum of the group being stepped: its own ({@link ParamGroup#momentum(double)}) or the optimizer's. */
  private float mu() {
    return (float) momentumOf(momentum);
  }

  @Override
  String momentumKind() {
    return "momentum";
  }

  @Override
  double defaultMomentum() {
    return momentum;
  }

  @Override
  protected void update(Tensor param, Tensor grad, double lr) {
    boolean first = mu() != 0f && !momentumBuffers.containsKey(param);
    Tensor buf = momentumBuffer(param);
    if (Blas.isNative() && param.isNativeCurrent() && grad.isNativeCurrent()) {
      nativeUpdate(param, grad, buf, first, (float) lr);
    } else {
      heapUpdate(param, grad, buf, first, (float) lr);
    }
  }

  /**
   * The parameter's momentum buffer, zeros made on its device at its first step, moved to its
   * device when loaded from a checkpoint or when the model moved; null without momentum.
   */
  private Tensor momentumBuffer(Tensor param) {
    if (mu() == 0f) {
      return null;
    }
    Tensor buf = momentumBuffers.get(param);
    if (buf == null) {
      buf = Tensor.zeros(param.device(), param.shape());
      momentumBuffers.put(param, buf);
    } else if (buf.device() != param.device()) {
      buf.moveTo(param.device());
    }
    return buf;
  }

  /** The rule above, element by element on the heap arrays, split over the cores. */
  private void heapUpdate(Tensor param, Tensor grad, Tensor momentumBuffer, boolean first, float rate) {
    float[] p = fromZero(param, true);
    float[] g = fromZero(grad, false);
    int n = param.numel();
    float decay = (float) weightDecayOf(weightDecay);
    if (momentumBuffer == null) {
      Parallel.forRange(n, 3L * n, (part, from, to) -> plainRange(p, g, from, to, rate, decay));
    } else {
      float[] buf = fromZero(momentumBuffer, true);
      float mu = mu();
      float keep = first ? 1f : 1f - dampening;
      float carry = first ? 0f : mu; // the first step's buffer is d itself
      boolean ahead = nesterov;
      Parallel.forRange(n, 4L * n, (part, from, to) -> momentumRange(p, g, buf, from, to, rate, decay, mu, carry, keep, ahead));
      writeBack(momentumBuffer, buf);
    }
    writeBack(param, p);
  }

  // The loops round as PyTorch's CPU kernels do: each x.add(y, alpha=a) is one fused multiply-add,
  // fma(y, a, x) (ATen's vectorised add, and OpenBLAS's axpy on the native path), so the heap path
  // gives PyTorch's bits and the native path's instead of an ulp off for some values. Weight decay
  // is added only when it is not 0, as PyTorch (0 * an infinite weight would be NaN).

  private static void plainRange(float[] p, float[] g, int from, int to, float rate, float decay) {
    for (int i = from; i < to; i++) {
      float d = decay == 0f ? g[i] : Math.fma(p[i], decay, g[i]);
      p[i] = Math.fma(d, -rate, p[i]);
    }
  }

  /** {@code buf = carry * buf + keep * d}, then the step along buf (or, with Nesterov, d + momentum * buf). */
  private static void momentumRange(float[] p, float[] g, float[] buf, int from, int to, float rate, float decay,
      float momentum, float carry, float keep, boolean nesterov) {
    for (int i = from; i < to; i++) {
      float d = decay == 0f ? g[i] : Math.fma(p[i], decay, g[i]);
      float b = Math.fma(d, keep, carry * buf[i]);
      buf[i] = b;
      p[i] = Math.fma(nesterov ? Math.fma(b, momentum, d) : b, -rate, p[i]);
    }
  }

  /**
   * The same rule as BLAS level-1 calls on the native copies, for parameters whose gradient a
   * compiled model wrote natively: nothing is copied between the heap and native memory.
   */
  private void nativeUpdate(Tensor param, Tensor grad, Tensor momentumBuffer, boolean first, float rate) {
    int n = param.numel();
    FloatPointer p = param.writeNative().getPointer(param.offset());
    FloatPointer d = grad.readNative().getPointer(grad.offset());
    float decay = (float) weightDecayOf(weightDecay);
    if (decay != 0f || nesterov) { // d = grad + weightDecay * p, in scratch (the gradient stays as it is)
      if (scratch == null || scratch.capacity() < n) {
        scratch = new FloatPointer(n);
      }
      Blas.copy(n, d, scratch);
      Blas.axpy(n, decay, p, scratch);
      d = scratch;
    }
    if (momentumBuffer == null) {
      Blas.axpy(n, -rate, d, p);
      return;
    }
    FloatPointer buf = momentumBuffer.writeNative();
    if (first) {
      Blas.copy(n, d, buf);
    } else {
      Blas.scale(n, mu(), buf);
      Blas.axpy(n, 1f - dampening, d, buf);
    }
    if (nesterov) { // d += momentum * buf (d is the scratch copy here)
      Blas.axpy(n, mu(), buf, d);
      Blas.axpy(n, -rate, d, p);
    } else {
      Blas.axpy(n, -rate, buf, p);
    }
  }
}
