package dev.kiln.runtime.optim;

import dev.kiln.runtime.Tensor;
import dev.kiln.runtime.cpu.Parallel;
import dev.kiln.runtime.cuda.OptimKernels;
import dev.kiln.runtime.io.StateEncoding;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The optimizers whose running state is a step count and up to three tensors of each parameter's
 * shape, named as PyTorch names them ({@link RMSprop}, {@link Adagrad}, {@link Adadelta}, {@link
 * Adamax}, {@link NAdam}, {@link RAdam}, {@link Rprop}, {@link ASGD}), and, where the rule has them,
 * per-parameter scalars (ASGD's {@code eta} and {@code mu}): this
 * class keeps the state (made at a parameter's first step, on its device, and moved with it),
 * writes and reads it in the state dict, and runs the update rule of the subclass over the
 * parameter's values on the host, split over the cores, or its kernel on CUDA.
 */
abstract sealed class RunningStateOptimizer extends Optimizer permits RMSprop, Adagrad, Adadelta, MomentsOptimizer, Rprop, ASGD {
  private static final String STEP = "step";
  private final String[] names;
  private final Map<Tensor, State> states = new IdentityHashMap<>();

  /** One parameter's step count, scalars ({@link #scalarNames}) and slots (null for a slot the settings do not keep). */
  private static final class State {
    int step;
    final float[] scalars;
    final Tensor[] slots;

    State(int step, float[] scalars, Tensor[] slots) {
      this.step = step;
      this.scalars = scalars;
      this.slots = slots;
    }
  }

  /**
   * @param name the optimizer's name, for messages
   * @param names PyTorch's names of the slots, in its state dict's order ({@code square_avg}, ...)
   */
  RunningStateOptimizer(String name, List<Tensor> params, double lr, String... names) {
    super(params, checkLr(name, lr));
    this.names = names.clone();
  }

  private static double checkLr(String name, double lr) {
    if (!(lr >= 0) || Double.isInfinite(lr)) {
      throw new IllegalArgumentException(name + ": learning rate must be finite and >= 0, got " + lr);
    }
    return lr;
  }

  /**
   * PyTorch's names of the per-parameter scalars the rule keeps besides the slots (ASGD's {@code eta}, {@code mu}),
   * in its state dict's order, written after {@code step} and before the slots as 0-dimensional tensors; none by default.
   */
  String[] scalarNames() {
    return new String[0];
  }

  /** The value scalar {@code i} starts at, in a group of rate {@code lr}. */
  float initialScalar(int i, double lr) {
    return 0f;
  }

  /**
   * Moves the parameter's scalars on after its step {@code step} (at rate {@code lr}) was computed from them, on
   * either device; nothing by default.
   */
  void advanceScalars(float[] scalars, int step, double lr) {}

  /** The update rule with the parameter's scalars (as they were before this step); by default {@link #updateRange} without. */
  void updateRange(float[] p, float[] g, float[][] slots, float[] scalars, int from, int to, int step, double lr,
      float weightDecay) {
    updateRange(p, g, slots, from, to, step, lr, weightDecay);
  }

  /** One CUDA parameter's part in a step with its scalars (before this step); by default {@link #entry} without. */
  OptimKernels.Entry entry(long p, long g, long[] slots, float[] scalars, int n, int step, double lr) {
    return entry(p, g, slots, n, step, lr);
  }

  /** Whether the current settings keep slot {@code i} (e.g. RMSprop's {@code momentum_buffer} only with momentum). */
  abstract boolean keeps(int slot);

  /** The value every element of a new slot starts at, in a group of rate {@code lr} (Rprop's step sizes start at it). */
  float initialValue(int slot, double lr) {
    return 0f;
  }

  /**
   * The update rule over elements {@code [from, to)} of arrays that start at the tensors' first
   * values; {@code slots[i]} is null where the settings do not keep slot i.
   *
   * @param step the parameter's step count, this step included (1 at its first)
   * @param weightDecay the weight decay of the parameter's group
   */
  abstract void updateRange(float[] p, float[] g, float[][] slots, int from, int to, int step, double lr, float weightDecay);

  /** The optimizer's weight decay (a group may have its own, {@link #weightDecayOf}). */
  public abstract double weightDecay();

  /** Work weight of one element's update, for {@link Parallel#forRange}. */
  abstract long workPerElement();

  /**
   * One CUDA parameter's part in a step, from device addresses (0 for slots not kept).
   *
   * @param step the parameter's step count, this step included
   */
  abstract OptimKernels.Entry entry(long p, long g, long[] slots, int n, int step, double lr);

  /** Runs the update rule's kernel over a group's CUDA entries. */
  abstract void launch(List<OptimKernels.Entry> entries, double lr);

  /** Throws unless {@code value} is a finite number of at least zero; names the optimizer and the setting. */
  final double nonNegative(String what, double value) {
    if (!(value >= 0) || Double.isInfinite(value)) {
      throw new IllegalArgumentException(getClass().getSimpleName() + ": " + what + " must be finite and >= 0, got " + value);
    }
    return value;
  }

  /** Throws unless {@code value} is in [0, 1), as PyTorch's beta checks; names the optimizer and the setting. */
  final double beta(String what, double value) {
    if (!(value >= 0 && value < 1)) {
      throw new IllegalArgumentException(getClass().getSimpleName() + ": " + what + " must be in [0, 1), got " + value);
    }
    return value;
  }

  /** The parameter's state, made on its device at its first step, moved with it, with the slots the settings keep. */
  private State state(Tensor param, double lr) {
    State s = states.computeIfAbsent(param, p -> new State(0, initialScalars(lr), new Tensor[names.length]));
    for (int i = 0; i < names.length; i++) {
      if (s.slots[i] == null && keeps(i)) {
        float v = initialValue(i, lr);
        s.slots[i] = v == 0f ? Tensor.zeros(param.device(), param.shape()) : Tensor.full(v, param.shape());
      }
      if (s.slots[i] != null && s.slots[i].device() != param.device()) {
        s.slots[i].moveTo(param.device());
      }
    }
    return s;
  }

  private float[] initialScalars(double lr) {
    float[] scalars = new float[scalarNames().length];
    for (int i = 0; i < scalars.length; i++) {
      scalars[i] = initialScalar(i, lr);
    }
    return scalars;
  }

  @Override
  protected final void update(Tensor param, Tensor grad, double lr) {
    State s = state(param, lr);
    int step = ++s.step;
    int n = param.numel();
    float[] p = fromZero(param, true);
    float[] g = fromZero(grad, false);
    float[][] slots = new float[names.length][];
    for (int i = 0; i < names.length; i++) {
      slots[i] = keeps(i) ? fromZero(s.slots[i], true) : null;
    }
    float decay = (float) weightDecayOf(weightDecay());
    float[] scalars = s.scalars.clone();
    Parallel.forRange(n, workPerElement() * n,
        (part, from, to) -> updateRange(p, g, slots, scalars, from, to, step, lr, decay));
    advanceScalars(s.scalars, step, lr);
    writeBack(param, p);
    for (int i = 0; i < names.length; i++) {
      if (slots[i] != null) {
        writeBack(s.slots[i], slots[i]);
      }
    }
  }

  @Override
  protected final OptimKernels.Entry cudaEntry(Tensor param, Tensor grad, double lr) {
    State s = state(param, lr);
    int step = ++s.step;
    long[] slots = new long[names.length];
    for (int i = 0; i < names.length; i++) {
      slots[i] = keeps(i) ? s.slots[i].writeCuda() : 0L;
    }
    OptimKernels.Entry entry = entry(param.writeCuda(), grad.readCuda(), slots, s.scalars.clone(), param.numel(), step, lr);
    advanceScalars(s.scalars, step, lr);
    return entry;
  }

  @Override
  protected final void stepOnCuda(List<OptimKernels.Entry> entries, double lr) {
    launch(entries, lr);
  }

  /** {@code step}, then each slot the parameter has, by PyTorch's names. */
  @Override
  protected final Map<String, Tensor> parameterState(Tensor param) {
    State s = states.get(param);
    if (s == null) {
      return Map.of();
    }
    Map<String, Tensor> out = new LinkedHashMap<>();
    out.put(STEP, StateEncoding.ofLong(s.step));
    String[] scalarNames = scalarNames();
    for (int i = 0; i < scalarNames.length; i++) {
      out.put(scalarNames[i], Tensor.wrap(new float[] {s.scalars[i]}, new int[0]));
    }
    for (int i = 0; i < names.length; i++) {
      if (s.slots[i] != null) {
        out.put(names[i], Tensor.wrap(s.slots[i].toFloatArray(), param.shape()));
      }
    }
    return out;
  }

  @Override
  protected final void loadParameterStates(List<ParamState> states) {
    String[] scalarNames = scalarNames();
    String[] allowed = new String[names.length + scalarNames.length + 1];
    allowed[0] = STEP;
    System.arraycopy(scalarNames, 0, allowed, 1, scalarNames.length);
    System.arraycopy(names, 0, allowed, 1 + scalarNames.length, names.length);
    Map<Tensor, State> loaded = new IdentityHashMap<>();
    for (ParamState saved : states) {
      saved.requireOnly(allowed);
      if (saved.isEmpty()) {
        continue;
      }
      Tensor[] slots = new Tensor[names.length];
      for (int i = 0; i < names.length; i++) {
        float[] values = saved.floatsOrNull(names[i]);
        slots[i] = values == null ? null : Tensor.wrap(values, saved.param().shape());
      }
      float[] scalars = new float[scalarNames.length];
      for (int i = 0; i < scalarNames.length; i++) {
        scalars[i] = saved.scalar(scalarNames[i]);
      }
      loaded.put(saved.param(), new State(saved.count(STEP), scalars, slots));
    }
    this.states.clear();
    this.states.putAll(loaded);
  }
}
