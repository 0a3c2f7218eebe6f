package dev.kiln.runtime.optim;

import dev.kiln.runtime.Device;
import dev.kiln.runtime.Tensor;
import dev.kiln.runtime.cpu.Parallel;
import dev.kiln.runtime.cuda.OptimKernels;
import dev.kiln.runtime.io.StateEncoding;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The step shared by {@link Adam} and {@link AdamW}; they differ only in how weight decay enters.
 * Per parameter, with its own step count {@code t} (PyTorch 1.13's {@code _single_tensor_adam}):
 *
 * <pre>
 *   t    = t + 1
 *   g    = grad + weightDecay * p                     (Adam: L2 penalty in the gradient)
 *   p    = p * (1 - lr * weightDecay)                 (AdamW: decoupled decay, instead)
 *   m    = beta1 * m + (1 - beta1) * g
 *   v    = beta2 * v + (1 - beta2) * g * g
 *   vmax = max(vmax, v);  v' = amsgrad ? vmax : v
 *   bc1  = 1 - beta1^t,   bc2 = 1 - beta2^t
 *   denom = sqrt(v') / sqrt(bc2) + eps
 *   p    = p - (lr / bc1) * m / denom
 * </pre>
 *
 * which is {@code p -= lr * mhat / (sqrt(vhat) + eps)} with {@code mhat = m / bc1} and
 * {@code vhat = v' / bc2}, evaluated in PyTorch's order. Moments are float32 like the parameters;
 * the bias corrections are computed in double and rounded once, as PyTorch does.
 *
 * @param <S> the concrete optimizer, returned by the fluent setters
 */
public abstract sealed class AdamBase<S extends AdamBase<S>> extends Optimizer permits Adam, AdamW {
  private final boolean decoupledWeightDecay;
  private double beta1 = 0.9;
  private double beta2 = 0.999;
  private double eps = 1e-8;
  private double weightDecay;
  private boolean amsgrad;
  private final Map<Tensor, Moments> moments = new IdentityHashMap<>();

  private static final String STEP = "step";
  private static final String EXP_AVG = "exp_avg";
  private static final String EXP_AVG_SQ = "exp_avg_sq";
  private static final String MAX_EXP_AVG_SQ = "max_exp_avg_sq";

  /** Running state of one parameter, on the parameter's device. */
  private static final class Moments {
    int step;
    final Tensor m;
    final Tensor v;
    Tensor vMax;

    Moments(Tensor param) {
      m = Tensor.zeros(param.device(), param.shape());
      v = Tensor.zeros(param.device(), param.shape());
    }

    Moments(int step, Tensor m, Tensor v, Tensor vMax) {
      this.step = step;
      this.m = m;
      this.v = v;
      this.vMax = vMax;
    }

    /** Follows the parameter to its device (after loading a checkpoint, or moving the model). */
    void moveTo(Device device) {
      m.moveTo(device);
      v.moveTo(device);
      if (vMax != null) {
        vMax.moveTo(device);
      }
    }
  }

  AdamBase(String name, List<Tensor> params, double lr, double weightDecay, boolean decoupledWeightDecay) {
    super(params, checkLr(name, lr));
    this.decoupledWeightDecay = decoupledWeightDecay;
    weightDecay(weightDecay);
  }

  private static double checkLr(String name, double lr) {
    if (!(lr >= 0) || Double.isInfinite(lr)) {
      throw new IllegalArgumentException(name + ": learning rate must be finite and >= 0, got " + lr);
    }
    return lr;
  }

  @SuppressWarnings("unchecked")
  private S self() {
    return (S) this;
  }

  private String name() {
    return getClass().getSimpleName();
  }

  /** Decay rates of the running averages of the gradient and its square; each in [0, 1). */
  public S betas(double beta1, double beta2) {
    checkBeta("beta1", beta1);
    checkBeta("beta2", beta2);
    this.beta1 = beta1;
    this.beta2 = beta2;
    return self();
  }

  private void checkBeta(String which, double beta) {
    if (!(beta >= 0 && beta < 1)) {
      throw new IllegalArgumentException(name() + ": " + which + " must be in [0, 1), got " + beta);
    }
  }

  /** Term added to the denominator for numerical stability; finite and >= 0. */
  public S eps(double eps) {
    this.eps = checkNonNegative("eps", eps);
    return self();
  }

  /** Weight decay factor; finite and >= 0. See {@link Adam} and {@link AdamW} for how it is applied. */
  public S weightDecay(double weightDecay) {
    this.weightDecay = checkNonNegative("weight decay", weightDecay);
    return self();
  }

  private double checkNonNegative(String what, double value) {
    if (!(value >= 0) || Double.isInfinite(value)) {
      throw new IllegalArgumentException(name() + ": " + what + " must be finite and >= 0, got " + value);
    }
    return value;
  }

  /** Whether to normalise by the running maximum of {@code v} (the AMSGrad variant). */
  public S amsgrad(boolean amsgrad) {
    this.amsgrad = amsgrad;
    return self();
  }

  public double beta1() {
    return beta1;
  }

  public double beta2() {
    return beta2;
  }

  public double eps() {
    return eps;
  }

  public double weightDecay() {
    return weightDecay;
  }

  public boolean amsgrad() {
    return amsgrad;
  }

  /**
   * PyTorch's names: {@code step}, {@code exp_avg} (m), {@code exp_avg_sq} (v) and, once amsgrad
   * has been on, {@code max_exp_avg_sq} (vmax).
   */
  @Override
  protected final Map<String, Tensor> parameterState(Tensor param) {
    Moments s = moments.get(param);
    if (s == null) {
      return Map.of();
    }
    int[] shape = param.shape();
    Map<String, Tensor> out = new LinkedHashMap<>();
    out.put(STEP, StateEncoding.ofLong(s.step));
    out.put(EXP_AVG, Tensor.wrap(s.m.toFloatArray(), shape));
    out.put(EXP_AVG_SQ, Tensor.wrap(s.v.toFloatArray(), shape));
    if (s.vMax != null) {
      out.put(MAX_EXP_AVG_SQ, Tensor.wrap(s.vMax.toFloatArray(), shape));
    }
    return out;
  }

  @Override
  protected final void loadParameterStates(List<ParamState> states) {
    Map<Tensor, Moments> loaded = new IdentityHashMap<>();
    for (ParamState s : states) {
      s.requireOnly(STEP, EXP_AVG, EXP_AVG_SQ, MAX_EXP_AVG_SQ);
      if (!s.isEmpty()) {
        loaded.put(s.param(),
            new Moments(s.count(STEP), Tensor.wrap(s.floats(EXP_AVG), s.param().shape()), Tensor.wrap(s.floats(EXP_AVG_SQ), s.param().shape()),
                s.floatsOrNull(MAX_EXP_AVG_SQ) == null ? null : Tensor.wrap(s.floatsOrNull(MAX_EXP_AVG_SQ), s.param().shape())));
      }
    }
    moments.clear();
    moments.putAll(loaded);
  }

  /** beta1 of the group being stepped: its own momentum ({@link ParamGroup#momentum(double)}) or the optimizer's. */
  private double b1() {
    return momentumOf(beta1);
  }

  @Override
  String momentumKind() {
    return "betas";
  }

  @Override
  double defaultMomentum() {
    return beta1;
  }

  @Override
  protected final OptimKernels.Entry cudaEntry(Tensor param, Tensor grad, double lr) {
    Moments s = moments(param);
    int t = ++s.step;
    return OptimKernels.Entry.adam(param.writeCuda(), grad.readCuda(), s.m.writeCuda(), s.v.writeCuda(),
        s.vMax == null ? 0L : s.vMax.writeCuda(), param.numel(), stepSize(lr, t), bc2Sqrt(t));
  }

  @Override
  protected final void stepOnCuda(List<OptimKernels.Entry> entries, double lr) {
    OptimKernels.adam(entries, (float) b1(), (float) beta2, (float) (1 - b1()), (float) (1 - beta2), l2(), shrink(lr), (float) eps);
  }

  @Override
  protected final void update(Tensor param, Tensor grad, double lr) {
    int n = param.numel();
    Moments s = moments(param);
    int t = ++s.step;

    float b1 = (float) b1();
    float b2 = (float) beta2;
    float keep1 = (float) (1 - b1());
    float keep2 = (float) (1 - beta2);
    float l2 = l2();
    float shrink = shrink(lr);
    float stepSize = stepSize(lr, t);
    float bc2Sqrt = bc2Sqrt(t);
    float epsilon = (float) eps;
    float[] p = fromZero(param, true);
    float[] g = fromZero(grad, false);
    float[] m = fromZero(s.m, true);
    float[] v = fromZero(s.v, true);
    float[] vMax = s.vMax == null ? null : fromZero(s.vMax, true);
    Parallel.forRange(n, 6L * n, (part, from, to) ->
        updateRange(p, g, m, v, vMax, from, to, b1, b2, keep1, keep2, l2, shrink, stepSize, bc2Sqrt, epsilon));
    writeBack(param, p);
    writeBack(s.m, m);
    writeBack(s.v, v);
    if (vMax != null) {
      writeBack(s.vMax, vMax);
    }
  }

  // Each PyTorch op rounds as its CPU kernel does (checked bit for bit against PyTorch 1.13 over
  // 100,000 values and several steps): add(x, alpha=a) and addcmul_ are one fused multiply-add
  // each (x + a y, x + (v a) b), mul_ a product, addcdiv_ x + (v a) / b; weight decay is added
  // only when it is not 0.
  /** The rule over elements {@code [from, to)} of arrays that all start at the tensors' first values. */
  private static void updateRange(float[] p, float[] g, float[] m, float[] v, float[] vMax, int from, int to,
      float b1, float b2, float keep1, float keep2, float l2, float shrink, float stepSize, float bc2Sqrt, float epsilon) {
    for (int i = from; i < to; i++) {
      float pi = p[i] * shrink;
      float gi = l2 == 0f ? g[i] : Math.fma(pi, l2, g[i]);
      float mi = Math.fma(gi, keep1, m[i] * b1);
      float vi = Math.fma(keep2 * gi, gi, v[i] * b2);
      m[i] = mi;
      v[i] = vi;
      if (vMax != null) {
        vi = Math.max(vMax[i], vi);
        vMax[i] = vi;
      }
      float denom = (float) Math.sqrt(vi) / bc2Sqrt + epsilon;
      p[i] = pi - stepSize * mi / denom;
    }
  }

  /** The parameter's moments, made on its device at its first step, moved with it. */
  private Moments moments(Tensor param) {
    Moments s = moments.computeIfAbsent(param, Moments::new);
    if (s.m.device() != param.device()) {
      s.moveTo(param.device());
    }
    if (amsgrad && s.vMax == null) {
      s.vMax = Tensor.zeros(param.device(), param.shape());
    }
    return s;
  }

  /** Adam's L2 penalty on the gradient (AdamW decays the weights instead), the group's own where it has one. */
  private float l2() {
    return decoupledWeightDecay ? 0f : (float) weightDecayOf(weightDecay);
  }

  /** AdamW's decoupled weight decay, as the factor the parameter is multiplied by (the group's decay where it has one). */
  private float shrink(double lr) {
    return decoupledWeightDecay ? (float) (1 - lr * weightDecayOf(weightDecay)) : 1f;
  }

  /** {@code lr / (1 - beta1^t)}: the step with the first moment's bias correction. */
  private float stepSize(double lr, int t) {
    return (float) (lr / (1 - Math.pow(b1(), t)));
  }

  /** {@code sqrt(1 - beta2^t)}: the second moment's bias correction. */
  private float bc2Sqrt(int t) {
    return (float) Math.sqrt(1 - Math.pow(beta2, t));
  }
}
