package dev.kiln.runtime.optim;

import dev.kiln.runtime.DType;
import dev.kiln.runtime.Tensor;
import dev.kiln.runtime.cuda.OptimKernels;
import dev.kiln.runtime.io.StateEncoding;
import java.lang.ref.Reference;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.function.Supplier;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Base of the optimizers: parameter groups, {@link #zeroGrad()}, {@link #step()}, and the state
 * dict that a checkpoint saves and restores.
 *
 * <p>The state dict follows PyTorch's layout, flattened to tensors: parameters are numbered across
 * all groups in order (group 0's first, then group 1's, ...), each parameter's running state is
 * {@code state.<i>.<name>} ({@code momentum_buffer}, {@code exp_avg}, ...), each group's
 * learning rate is {@code param_groups.<g>.lr} and its parameters' indices {@code
 * param_groups.<g>.params} (a state for groups of other sizes is refused). Hyperparameters other than the learning rate
 * (momentum, betas, ...) are not saved: the optimizer that loads the state is built with them.
 * Counts and learning rates are kept exactly, as {@link StateEncoding} describes.
 */
public abstract class Optimizer {
  private final List<ParamGroup> groups = new ArrayList<>();
  /** Calls of {@link #step()} in this process (not saved): the schedulers warn when they step first. */
  private long stepCalls;
  /** The group each parameter belongs to, by its index in {@link #groups}. */
  private final Map<Tensor, Integer> seen = new IdentityHashMap<>();
  /** The group {@link #step()} is updating, for {@link #weightDecayOf}. */
  private ParamGroup stepping;

  protected Optimizer(List<Tensor> params, double lr) {
    addParamGroup(params, lr);
  }

  /**
   * Adds parameters with a learning rate of their own (and, through the group returned, a weight
   * decay: {@link ParamGroup#weightDecay(double)}). A tensor may belong to one group only, once.
   * A list that is refused leaves the optimizer as it was.
   */
  public final ParamGroup addParamGroup(List<Tensor> params, double lr) {
    String name = getClass().getSimpleName();
    if (params.isEmpty()) {
      throw new IllegalArgumentException(name + ": got an empty parameter list");
    }
    Map<Tensor, Integer> mine = new IdentityHashMap<>();
    for (int i = 0; i < params.size(); i++) {
      Tensor p = params.get(i);
      if (p == null) {
        throw new IllegalArgumentException(name + ": parameter " + i + " is null");
      }
      if (!p.isLeaf()) {
        throw new IllegalArgumentException(name + ": parameter " + i
            + " is not a leaf tensor (it was computed from others); optimize the tensors it was computed from");
      }
      String which = groups.isEmpty() ? "" : " of the new group";
      if (seen.containsKey(p)) {
        throw new IllegalArgumentException(name + ": parameter " + i + which + " is already in param group " + seen.get(p)
            + " (a parameter may belong to one group only)");
      }
      Integer first = mine.putIfAbsent(p, i);
      if (first != null) {
        throw new IllegalArgumentException(name + ": parameter " + i + which + " is parameter " + first + " again"
            + " (a parameter may be listed once)");
      }
    }
    ParamGroup g = new ParamGroup(params, lr); // checks the rate
    mine.keySet().forEach(p -> seen.put(p, groups.size()));
    groups.add(g);
    return g;
  }

  public final List<ParamGroup> paramGroups() {
    return Collections.unmodifiableList(groups);
  }

  /**
   * Sets every parameter's gradient to zero in place (PyTorch 1.13's default
   * {@code zero_grad(set_to_none=False)}): gradients keep their memory, and a gradient held in
   * native memory is cleared there without a copy. Gradients not created yet stay absent.
   */
  public void zeroGrad() {
    for (ParamGroup g : groups) {
      for (Tensor p : g.params()) {
        if (p.grad() != null) {
          p.grad().zero();
        }
      }
    }
  }

  /** Updates every parameter that has a gradient; parameters without one are left alone. */
  public void step() {
    stepCalls++;
    for (ParamGroup g : groups) {
      List<Tensor> stepped = new ArrayList<>();
      for (Tensor p : g.params()) {
        if (p.grad() != null) {
          stepped.add(p);
        }
      }
      stepping = g;
      try {
        updateGroup(stepped, g.lr());
      } finally {
        stepping = null;
      }
    }
  }

  /**
   * The weight decay of the group being stepped: its own ({@link ParamGroup#weightDecay(double)})
   * where it has one, else {@code optimizers}, the optimizer's setting. For {@link #update},
   * {@link #cudaEntry} and {@link #stepOnCuda}.
   */
  protected final double weightDecayOf(double optimizers) {
    return stepping == null || stepping.weightDecay() == null ? optimizers : stepping.weightDecay();
  }

  /**
   * The momentum of the group being stepped (SGD's momentum, Adam's beta1): its own ({@link
   * ParamGroup#momentum(double)}) where it has one, else {@code optimizers}.
   */
  protected final double momentumOf(double optimizers) {
    return stepping == null || stepping.momentum() == null ? optimizers : stepping.momentum();
  }

  /**
   * What a group's {@link ParamGroup#momentum} is for this optimizer: {@code "momentum"} (SGD),
   * {@code "betas"} (beta1: Adam, AdamW), or null where it has none ({@link OneCycleLR} and {@link
   * CyclicLR} refuse to cycle it then, as PyTorch's do).
   */
  String momentumKind() {
    return null;
  }

  /** The optimizer's own momentum (or beta1), where {@link #momentumKind()} is not null. */
  double defaultMomentum() {
    throw new UnsupportedOperationException(getClass().getSimpleName() + " has no momentum");
  }

  /** How many times {@link #step()} ran on this object (a loaded state does not count). */
  long stepCalls() {
    return stepCalls;
  }

  /**
   * Applies one update to each of {@code params} (a group's parameters that have gradients): the
   * host ones one by one ({@link #update}), the CUDA ones together ({@link #cudaEntry} for each,
   * then {@link #stepOnCuda}: one launch per 32 parameters).
   */
  private void updateGroup(List<Tensor> params, double lr) {
    List<OptimKernels.Entry> onCuda = new ArrayList<>();
    List<Tensor> kept = new ArrayList<>(); // gradients copied to the device stay reachable until the launch
    for (Tensor p : params) {
      if (!p.device().isCuda()) {
        update(p, p.grad(), lr);
        continue;
      }
      Tensor grad = p.grad().to(p.device());
      kept.add(grad);
      onCuda.add(cudaEntry(p, grad, lr));
    }
    if (!onCuda.isEmpty()) {
      stepOnCuda(onCuda, lr);
    }
    Reference.reachabilityFence(kept);
  }

  /**
   * A CUDA parameter's part in this step (its state made or moved to the device as needed, its
   * step counted), for {@link #stepOnCuda}; {@code grad} is on the parameter's device.
   */
  protected OptimKernels.Entry cudaEntry(Tensor param, Tensor grad, double lr) {
    throw new UnsupportedOperationException(getClass().getSimpleName() + " has no CUDA step: its parameters must live on the CPU");
  }

  /** The update rule over the CUDA parameters of one group, from their {@link #cudaEntry}s. */
  protected void stepOnCuda(List<OptimKernels.Entry> entries, double lr) {
    throw new UnsupportedOperationException(getClass().getSimpleName() + " has no CUDA step: its parameters must live on the CPU");
  }

  /** Applies one update to {@code param}, a host tensor, in place. */
  protected abstract void update(Tensor param, Tensor grad, double lr);

  /**
   * A host tensor's values as an array whose index 0 is the tensor's first value: the tensor's own
   * array when its offset is 0 (the usual case for parameters, gradients and optimizer state),
   * else a copy, which {@link #writeBack} stores. The update loops index every array with the
   * same {@code i}: the JIT vectorises such loops, while a loop over arrays at different runtime
   * offsets runs as scalar code (measured: Adam's update 8x slower).
   */
  protected static float[] fromZero(Tensor t, boolean forWrite) {
    float[] values = forWrite ? t.buffer() : t.readBuffer();
    return t.offset() == 0 ? values : Arrays.copyOfRange(values, t.offset(), t.offset() + t.numel());
  }

  /** Stores {@code values}, from {@link #fromZero}{@code (t, true)}, into {@code t} when they were a copy. */
  protected static void writeBack(Tensor t, float[] values) {
    if (t.offset() != 0) {
      System.arraycopy(values, 0, t.buffer(), t.offset(), t.numel());
    }
  }

  // ------------------------------------------------------------------ state dict

  private static final Pattern PARAM_STATE_KEY = Pattern.compile("state\\.(\\d{1,9})\\.(.+)");
  private static final Pattern GROUP_LR_KEY = Pattern.compile("param_groups\\.(\\d{1,9})\\.(lr|params)");

  /**
   * The optimizer's state, like PyTorch's {@code optimizer.state_dict()}: each parameter's running
   * state as {@code state.<i>.<name>} (absent for a parameter not stepped yet), then each group's
   * learning rate as {@code param_groups.<g>.lr} and the indices of its parameters as {@code
   * param_groups.<g>.params} (an int32 vector, PyTorch's {@code params} list). The tensors are
   * copies: later steps do not change them.
   */
  public final Map<String, Tensor> stateDict() {
    Map<String, Tensor> out = new LinkedHashMap<>();
    List<Tensor> params = indexedParams();
    for (int i = 0; i < params.size(); i++) {
      String prefix = "state." + i + ".";
      parameterState(params.get(i)).forEach((name, t) -> out.put(prefix + name, t));
    }
    int first = 0;
    for (int g = 0; g < groups.size(); g++) {
      out.put(groupLrKey(g), StateEncoding.ofDouble(groups.get(g).lr()));
      int count = groups.get(g).params().size();
      out.put(groupParamsKey(g), Tensor.wrap(expectedIndices(first, count), DType.INT32, count));
      first += count;
    }
    return out;
  }

  /**
   * Restores a state written by {@link #stateDict()} of an optimizer of the same kind over
   * parameters of the same shapes in the same order: every parameter's running state is replaced
   * (a parameter without saved state starts afresh, as if never stepped) and every group's learning
   * rate is set. Nothing changes unless the whole state fits.
   *
   * @throws IllegalArgumentException naming every key that is unexpected, and the first that is
   *     missing or does not fit
   */
  public final void loadStateDict(Map<String, Tensor> state) {
    List<Tensor> params = indexedParams();
    List<Map<String, Tensor>> perParam = new ArrayList<>();
    for (int i = 0; i < params.size(); i++) {
      perParam.add(new LinkedHashMap<>());
    }
    Set<String> unexpected = new TreeSet<>();
    for (Map.Entry<String, Tensor> e : state.entrySet()) {
      Matcher m = PARAM_STATE_KEY.matcher(e.getKey());
      if (m.matches() && Integer.parseInt(m.group(1)) < params.size()) {
        perParam.get(Integer.parseInt(m.group(1))).put(e.getKey(), e.getValue());
      } else if (!isGroupLrKey(e.getKey())) {
        unexpected.add(e.getKey());
      }
    }
    String name = getClass().getSimpleName();
    if (!unexpected.isEmpty()) {
      throw new IllegalArgumentException(name + ": unexpected key(s) in the state dict " + unexpected + " for "
          + params.size() + " parameters in " + groups.size() + " group(s)");
    }
    double[] lrs = new double[groups.size()];
    int first = 0;
    for (int g = 0; g < lrs.length; g++) {
      try {
        lrs[g] = StateEncoding.toDouble(state, groupLrKey(g));
      } catch (IllegalArgumentException e) {
        throw new IllegalArgumentException(name + ": " + e.getMessage() + " (this optimizer has " + groups.size()
            + " param group(s); the state may be for fewer)", e);
      }
      if (!(lrs[g] >= 0) || Double.isInfinite(lrs[g])) {
        throw new IllegalArgumentException(name + ": " + groupLrKey(g) + " is " + lrs[g] + ", not a learning rate");
      }
      int count = groups.get(g).params().size();
      Tensor saved = state.get(groupParamsKey(g)); // absent in states saved before Kiln wrote it
      if (saved != null && !(saved.dtype() == DType.INT32 && saved.shape().length == 1
          && Arrays.equals(saved.toFloatArray(), expectedIndices(first, count)))) {
        throw new IllegalArgumentException(name + ": the state's param group " + g + " holds parameters "
            + saved + ", this optimizer's holds " + count + " parameter(s) from index " + first
            + " (PyTorch: loaded state dict contains a parameter group that doesn't match the size of optimizer's group)");
      }
      first += count;
    }
    List<ParamState> states = new ArrayList<>(params.size());
    for (int i = 0; i < params.size(); i++) {
      states.add(new ParamState(name, i, params.get(i), perParam.get(i)));
    }
    loadParameterStates(states);
    for (int g = 0; g < lrs.length; g++) {
      groups.get(g).lr(lrs[g]);
    }
  }

  private boolean isGroupLrKey(String key) {
    Matcher m = GROUP_LR_KEY.matcher(key);
    return m.matches() && Integer.parseInt(m.group(1)) < groups.size();
  }

  private static String groupLrKey(int group) {
    return "param_groups." + group + ".lr";
  }

  private static String groupParamsKey(int group) {
    return "param_groups." + group + ".params";
  }

  private static float[] expectedIndices(int first, int count) {
    float[] out = new float[count];
    for (int k = 0; k < count; k++) {
      out[k] = first + k;
    }
    return out;
  }

  /** Every parameter of every group, in order: position {@code i} is the one {@code state.<i>} names. */
  private List<Tensor> indexedParams() {
    List<Tensor> out = new ArrayList<>();
    for (ParamGroup g : groups) {
      out.addAll(g.params());
    }
    return out;
  }

  /**
   * The running state of {@code param} by PyTorch's names, as copies; empty when it has none (it
   * has not been stepped).
   */
  protected abstract Map<String, Tensor> parameterState(Tensor param);

  /**
   * Replaces the running state of every parameter with the saved one ({@link ParamState#isEmpty()}
   * for a parameter saved without state). Implementations read and check every entry before they
   * change anything, so that a state that does not fit leaves the optimizer as it was.
   *
   * @throws IllegalArgumentException from {@link ParamState}'s readers
   */
  protected abstract void loadParameterStates(List<ParamState> states);

  /**
   * The saved running state of one parameter, for {@link #loadParameterStates}: readers that check
   * each entry and name its key ({@code state.<i>.<name>}) when it is missing or does not fit.
   */
  protected static final class ParamState {
    private final String optimizer;
    private final int index;
    private final Tensor param;
    private final Map<String, Tensor> entries; // by full key, state.<index>.<name>

    ParamState(String optimizer, int index, Tensor param, Map<String, Tensor> entries) {
      this.optimizer = optimizer;
      this.index = index;
      this.param = param;
      this.entries = entries;
    }

    /** The parameter this state belongs to. */
    public Tensor param() {
      return param;
    }

    /** Whether nothing was saved for the parameter. */
    public boolean isEmpty() {
      return entries.isEmpty();
    }

    /** Throws unless every saved name is one of {@code names}. */
    public void requireOnly(String... names) {
      Set<String> extra = new TreeSet<>(entries.keySet());
      for (String name : names) {
        extra.remove(key(name));
      }
      if (!extra.isEmpty()) {
        throw error("unexpected state " + extra + "; " + optimizer + " keeps " + List.of(names));
      }
    }

    /** A copy of the float32 tensor {@code name}, which must have the parameter's shape. */
    public float[] floats(String name) {
      return read(() -> StateEncoding.require(entries, key(name), DType.FLOAT32, param.shape()).toFloatArray());
    }

    /** The float32 0-dimensional tensor {@code name} (a per-parameter scalar, ASGD's {@code eta}), which must be there. */
    public float scalar(String name) {
      return read(() -> StateEncoding.require(entries, key(name), DType.FLOAT32, new int[0]).toFloatArray()[0]);
    }

    /** Like {@link #floats}, or null when {@code name} was not saved. */
    public float[] floatsOrNull(String name) {
      return entries.containsKey(key(name)) ? floats(name) : null;
    }

    /** A count saved with {@link StateEncoding#ofLong}; it must lie in {@code [0, Integer.MAX_VALUE]}. */
    public int count(String name) {
      long value = read(() -> StateEncoding.toLong(entries, key(name)));
      if (value < 0 || value > Integer.MAX_VALUE) {
        throw error(key(name) + " is " + value + ", not a count");
      }
      return (int) value;
    }

    private String key(String name) {
      return "state." + index + "." + name;
    }

    /** Runs a {@link StateEncoding} reader, putting the optimizer's name before its message. */
    private <T> T read(Supplier<T> reader) {
      try {
        return reader.get();
      } catch (IllegalArgumentException e) {
        throw error(e.getMessage());
      }
    }

    private IllegalArgumentException error(String problem) {
      return new IllegalArgumentException(optimizer + ": " + problem);
    }
  }
}
