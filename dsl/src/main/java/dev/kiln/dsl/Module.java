package dev.kiln.dsl;

import dev.kiln.runtime.DType;
import dev.kiln.runtime.Device;
import dev.kiln.runtime.Intermediates;
import dev.kiln.runtime.Kiln;
import dev.kiln.runtime.Shapes;
import dev.kiln.runtime.Tensor;
import dev.kiln.runtime.io.SafeTensors;
import dev.kiln.runtime.io.TorchFiles;
import java.io.IOException;
import java.lang.reflect.Field;
import java.lang.reflect.Modifier;
import java.math.BigDecimal;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Function;
import java.util.stream.Collectors;

/**
 * A network or a layer, like PyTorch's {@code nn.Module}. Subclasses declare their layers as
 * fields and implement {@link #forward}; children and parameters are found from those fields (in
 * declaration order) and from {@link #registerModule}/{@link #registerParameter}, so parameter
 * names are PyTorch's {@code state_dict} keys: {@code fc1.weight}, {@code 0.bias}, ... Static and
 * {@code transient} fields are not part of the tree (a transient field may point to a layer
 * registered elsewhere without registering it twice). Buffers ({@link #registerBuffer}) are state
 * that is saved but not trained, such as batch norm's running statistics.
 *
 * <p>Import it by name ({@code import dev.kiln.dsl.Module;}): with only {@code dev.kiln.dsl.*},
 * javac finds {@code Module} ambiguous with {@code java.lang.Module}.
 */
public abstract class Module {
  private final Map<String, Tensor> parameters = new LinkedHashMap<>();
  private final Map<String, Tensor> buffers = new LinkedHashMap<>();
  /** The buffers registered with {@code persistent} false: left out of the state dict. */
  private final java.util.Set<String> transientBuffers = new java.util.HashSet<>();
  private final Map<String, Module> modules = new LinkedHashMap<>();
  private boolean training = true;

  /** Computes the output for a batch. */
  public abstract Tensor forward(Tensor x);

  /**
   * Told of every {@link #apply} on this thread while set (by {@link Summary}); null otherwise, so
   * an ordinary forward pass costs one thread-local read.
   */
  static final ThreadLocal<ForwardListener> FORWARD_LISTENER = new ThreadLocal<>();

  /** What {@link #apply} tells the {@link #FORWARD_LISTENER}: a module and the output it just computed. */
  @FunctionalInterface
  interface ForwardListener {
    void afterForward(Module module, Tensor output);
  }

  /**
   * Whether {@link #summary} is recording the layers a forward pass applies on this thread. A
   * compiled ({@code Kiln<Name>}) model's forward then runs its layers' eager forwards, so that each
   * layer is seen; its fused code applies no layer.
   */
  protected static boolean recordingLayers() {
    return FORWARD_LISTENER.get() != null;
  }

  /**
   * The shape of one input sample this model was declared for ({@code @Model(input = ...)} on its
   * class or a superclass), or null when it does not know it, so that {@code summary()} needs no
   * shape; a compiled model from a factory method ({@code Kiln<Name>}) returns its method's.
   * Returns a new array.
   */
  protected int[] declaredInputShape() {
    for (Class<?> c = getClass(); c != null && c != Module.class; c = c.getSuperclass()) {
      Model model = c.getAnnotation(Model.class);
      if (model != null) {
        return model.input().clone();
      }
    }
    return null;
  }

  /**
   * Called by a compiled ({@code Kiln<Name>}) model's constructor for each layer its code was
   * generated for: throws unless the layer at {@code path} has the hyper-parameters the annotation
   * processor read from its declaration. The processor reads field initializers and the assignments
   * of the constructor without parameters, so a layer changed afterwards (a builder call on it in the
   * constructor, say) would make the compiled code compute something else.
   * The check runs when the compiled model is built; a layer reconfigured on a built model (its
   * builder methods called again) is not caught.
   *
   * @throws IllegalStateException naming the layer, what it is and what was compiled
   */
  protected final void requireCompiledLayer(String path, LayerSpec compiled) {
    Module layer = getSubmodule(path);
    LayerSpec actual = layer instanceof Layer<?> l ? l.spec() : null;
    if (!compiled.equals(actual)) {
      throw new IllegalStateException(getClass().getSimpleName() + ": layer '" + path + "' is " + layer
          + ", but the compiled code was generated for " + compiled + ", as its declaration initialises it; the"
          + " annotation processor reads each layer from its initializer or its one assignment in the constructor"
          + " without parameters, so configure it there (new " + layer.getClass().getSimpleName()
          + "(...) with its builder calls), not by calls on the layer afterwards");
    }
  }

  /**
   * Called by a compiled ({@code Kiln<Name>}) model's constructor for each tensor field its code
   * reads (a learned position table, a causal mask): throws unless the field holds a tensor of the
   * shape the annotation processor read from its declaration, registered in this module as a
   * parameter ({@code parameter}) or as a buffer, as the compiled code treats it (a parameter gets
   * its gradient, a buffer none).
   *
   * @throws IllegalStateException naming the field, what it holds and what was compiled
   */
  protected final void requireCompiledTensor(String field, Tensor tensor, boolean parameter, int... shape) {
    checkCompiledTensor(getClass().getSimpleName(), field, tensor, parameter, shape);
  }

  /**
   * Called by a compiled ({@code Kiln<Name>}) model's constructor for each tensor field of a block its code reads
   * ({@code "h.0.attn.mask"}: the block at {@code h.0.attn}, its field {@code mask}): checks it as {@link
   * #requireCompiledTensor} checks the model's own, in the block, and returns it. A layer of the dsl whose tensor no field
   * holds is read by its registered name ({@code "enc.layers.0.self_attn.in_proj_weight"}, the compiled attention layers').
   *
   * @throws IllegalStateException naming the field, what it holds and what was compiled
   */
  protected final Tensor requireCompiledBlockTensor(String path, boolean parameter, int... shape) {
    int dot = path.lastIndexOf('.');
    Module block = getSubmodule(path.substring(0, dot));
    String name = path.substring(dot + 1);
    Field field = block.declaredFields().stream().filter(f -> f.getName().equals(name) && f.getType() == Tensor.class)
        .reduce((a, b) -> b).orElse(null);
    Tensor tensor = field != null ? (Tensor) block.read(field)
        : parameter ? block.parameters.get(name) : block.buffers.get(name);
    block.checkCompiledTensor(getClass().getSimpleName(), path, tensor, parameter, shape);
    return tensor;
  }

  private void checkCompiledTensor(String model, String field, Tensor tensor, boolean parameter, int[] shape) {
    String compiled = (parameter ? "a parameter" : "a buffer") + " of shape " + Shapes.toString(shape);
    String problem = tensor == null ? "null"
        : !Arrays.equals(tensor.shape(), shape) ? "of shape " + Shapes.toString(tensor.shape())
        : parameter && !ownParameters().containsValue(tensor) ? "not a parameter of " + name()
        : !parameter && !buffers.containsValue(tensor) ? "not a buffer of " + name()
        : null;
    if (problem != null) {
      throw new IllegalStateException(model + ": tensor field '" + field + "' is " + problem
          + ", but the compiled code was generated for " + compiled + ", as its declaration initialises it; the annotation"
          + " processor reads each tensor field from its initializer or its one assignment in the constructor without"
          + " parameters, so create it there (" + field + " = registerParameter(name, Tensor.zeros(...).requiresGrad(true)),"
          + " or registerBuffer(name, ...)) and change only its values afterwards");
    }
  }

  /**
   * For a container that runs its children one after another, each on the one before's output ({@link Sequential},
   * {@link TransformerEncoder}, {@link TransformerDecoder}): a tracker that gives each output back to the thread's array
   * pool (on CUDA, its device block to the CUDA caching allocator) once the next child has returned, so that the next
   * output of its length is written into memory still in the cache ({@link Intermediates}); null when none may be given
   * back: gradients are recorded, {@link #summary} is watching the layers' outputs, or a module in this container's tree
   * is not one of the dsl's own layers (a user's module, or a subclass of a dsl layer, may keep a tensor it was given or
   * returned).
   */
  final Intermediates intermediates(Tensor input) {
    if (Kiln.isGradEnabled() || FORWARD_LISTENER.get() != null) {
      return null;
    }
    if (builtInTree == null) { // the containers' trees are fixed when they are built
      builtInTree = modules().stream().allMatch(m -> BUILT_IN.get(m.getClass()));
    }
    return builtInTree ? Intermediates.track(input) : null;
  }

  /** {@code run.hold(values)} unless {@code run} is null: a layer's maps in between, given back after its output is made. */
  static void hold(Intermediates run, Tensor... values) {
    if (run != null) {
      run.hold(values);
    }
  }

  /** Whether every module of this one's tree is a dsl layer ({@link #intermediates}); null until asked. */
  private transient Boolean builtInTree;

  /**
   * Whether a module class is one of the dsl's own, whose forwards keep no tensor they read or return: its package and
   * its class files' location are this class's (a user's class in a package of the same name is not).
   */
  private static final ClassValue<Boolean> BUILT_IN = new ClassValue<>() {
    @Override protected Boolean computeValue(Class<?> c) {
      return c.getPackageName().equals(Module.class.getPackageName()) && !c.isAnonymousClass() && !c.isLocalClass()
          && java.util.Objects.equals(location(c), location(Module.class));
    }

    private java.net.URL location(Class<?> c) {
      java.security.CodeSource source = c.getProtectionDomain().getCodeSource();
      return source == null ? null : source.getLocation();
    }
  };

  /** Calls {@link #forward}: write {@code fc1.apply(x)} as PyTorch users write {@code self.fc1(x)}. */
  public Tensor apply(Tensor x) {
    Tensor y = forward(x);
    ForwardListener listener = FORWARD_LISTENER.get();
    if (listener != null) {
      listener.afterForward(this, y);
    }
    return y;
  }

  /**
   * The table {@code torchsummary.summary(model, inputShape)} prints, as a string (nothing is
   * printed): one row per leaf layer in the order the forward pass runs them, with its output shape
   * ({@code -1} for the batch) and parameter count, then the parameter totals and a memory estimate.
   * The rows come from one forward pass, without gradients and in evaluation mode, on a batch of two
   * zero inputs of shape {@code inputShape} (no batch dimension); the training mode is restored
   * afterwards. Layers called through {@link #apply} are seen; functional calls ({@code F.relu}) are
   * not, as in torchsummary. Leaf layers with parameters that no {@code apply} reached (called as
   * {@code forward(x)}, or not at all) are named on a line after the table, whose totals leave them
   * out. A compiled model ({@code Kiln<Name>}) runs its layers' eager forwards
   * for the summary, and {@code summary()} without a shape uses its declared input shape (and ids,
   * for one whose input is token ids). See
   * {@link Summary} for the layout.
   *
   * @throws IllegalArgumentException if no shape is given and the model was not compiled from a
   *     {@code @Model} declaration, or a dimension is not positive
   * @throws IllegalStateException if the forward pass applied no layer through {@link #apply}
   *     although the model has parameters (the table would say "Total params: 0")
   * @throws ShapeException if the input shape does not fit the model
   */
  public String summary(int... inputShape) {
    return Summary.of(this, declaredInputIsIds(), inputShape);
  }

  /**
   * Whether the model was compiled from a {@code @Model} declaration whose input is token ids (an
   * {@link Embedding} applied to it): {@link #summary(int...)} then feeds ids, as {@link
   * #summaryOfIds} does. Generated classes override it; false otherwise.
   */
  protected boolean declaredInputIsIds() {
    return false;
  }

  /**
   * {@link #summary(int...)} of a model that takes token or category ids (an {@link Embedding}
   * first): the forward pass runs on a batch of id 0 ({@code Tensor.labels}) of shape {@code
   * inputShape}, as torchsummary's {@code dtypes=[torch.long]}.
   */
  public String summaryOfIds(int... inputShape) {
    return Summary.of(this, true, inputShape);
  }

  /**
   * The output shape for an input shape, without computing anything; -1 stands for the batch
   * dimension. Layers and {@link Sequential} know theirs; a model with a hand-written
   * {@code forward} has its shapes inferred by the annotation processor instead.
   *
   * @throws ShapeException if the input shape does not fit
   */
  public int[] outputShape(int[] inputShape) {
    throw new ShapeException(
        name() + " has a hand-written forward: its shapes are checked by the annotation processor (@Model), not by outputShape");
  }

  /** Removes the parameter registered under {@code name} (a layer's bias switched off); nothing if there is none. */
  final void unregisterParameter(String name) {
    parameters.remove(name);
  }

  /**
   * A parameter drawn afresh after a builder changed its shape (a convolution's {@code groups(g)}): {@code fresh}'s new
   * one registered under {@code name} in place of {@code current}; null (and nothing registered) when {@code current} is
   * null (a bias left out).
   */
  final Tensor redrawnParameter(String name, Tensor current, java.util.function.Supplier<Tensor> fresh) {
    if (current == null) {
      return null;
    }
    unregisterParameter(name);
    return registerParameter(name, fresh.get());
  }

  /**
   * A parameter that a builder switches on and off (a convolution's {@code bias(false)}): with {@code on}, {@code current},
   * or {@code fresh}'s new one registered under {@code name} when there is none; without, null, and {@code name} no longer
   * a parameter.
   */
  final Tensor optionalParameter(String name, Tensor current, boolean on, java.util.function.Supplier<Tensor> fresh) {
    if (!on) {
      unregisterParameter(name);
      return null;
    }
    return current != null ? current : registerParameter(name, fresh.get());
  }

  /** Registers a parameter under {@code name}; it must be a leaf tensor that requires grad. */
  protected final Tensor registerParameter(String name, Tensor parameter) {
    if (!parameter.requiresGrad() || !parameter.isLeaf()) {
      throw new IllegalArgumentException(name() + ": parameter '" + name + "' must be a leaf tensor that requires grad");
    }
    checkNewName(name);
    parameters.put(name, parameter);
    return parameter;
  }

  /**
   * Makes the parameter registered under {@code name} be {@code shared}, another layer's parameter, as PyTorch's
   * {@code self.transformer.wte.weight = self.lm_head.weight} (weight tying): the tensor this module registered there is
   * dropped, and both modules then read and train the one tensor, whose gradient receives both uses. {@link
   * #namedParameters()} and {@link #parameters()} list it once (under its first name), {@link #stateDict()} under
   * both names. Tie before building the optimizer, as in PyTorch: one built earlier still holds the dropped tensor
   * (which gets no gradient again, so training is right, but its state dict counts one parameter more).
   *
   * @param setter the call a message names, e.g. {@code "weight(...)"}
   * @throws IllegalArgumentException if {@code shared} is null, not a parameter (a leaf tensor that requires grad)
   *     or not of the shape of the parameter it replaces
   */
  protected final Tensor shareParameter(String name, String setter, Tensor shared) {
    Tensor own = parameters.get(name);
    if (own == null) {
      throw new IllegalStateException(name() + " has no parameter '" + name + "' to share");
    }
    String what = this + "." + setter;
    if (shared == null) {
      throw new IllegalArgumentException(what + " got null; give it another layer's parameter, such as lmHead.weight()");
    }
    if (!shared.isLeaf() || !shared.requiresGrad()) {
      throw new IllegalArgumentException(what + " got a tensor that is not a parameter (" + (shared.isLeaf()
          ? "it does not require grad" : "it was computed from others") + "); tie to another layer's parameter itself,"
          + " such as lmHead.weight()");
    }
    if (!Arrays.equals(shared.shape(), own.shape())) {
      throw new IllegalArgumentException(what + " got a tensor of shape " + Shapes.toString(shared.shape()) + ", but its "
          + name + " is " + Shapes.toString(own.shape()) + "; a tied parameter must have the shape of the one it replaces"
          + " (an Embedding(V, D)'s weight [V, D] ties a Linear(D, V)'s weight [V, D])");
    }
    parameters.put(name, shared); // keeps the name's place in the state dict
    return shared;
  }

  /**
   * Registers a buffer under {@code name}, as PyTorch's {@code register_buffer}: state saved in
   * {@link #stateDict()} but not a parameter, so no optimizer trains it (e.g. running statistics).
   * Code that updates it writes its {@link Tensor#buffer()} in place.
   */
  protected final Tensor registerBuffer(String name, Tensor buffer) {
    return registerBuffer(name, buffer, true);
  }

  /**
   * Registers a buffer, as PyTorch's {@code register_buffer(name, tensor, persistent)}: with {@code persistent} false it
   * is moved by {@link #to} and listed by {@link #namedBuffers()} but left out of {@link #stateDict()} (so {@code save}
   * and {@code loadStateDict} neither write nor expect it), as a table computed in the constructor (simple_vit.py's
   * sincos positions, a causal mask) is kept out of PyTorch's checkpoints.
   */
  protected final Tensor registerBuffer(String name, Tensor buffer, boolean persistent) {
    if (buffer == null) {
      throw new IllegalArgumentException(name() + ": buffer '" + name + "' must not be null");
    }
    if (buffer.requiresGrad()) {
      throw new IllegalArgumentException(
          name() + ": buffer '" + name + "' requires grad; a trained tensor is a parameter (registerParameter)");
    }
    checkNewName(name);
    buffers.put(name, buffer);
    if (!persistent) {
      transientBuffers.add(name);
    }
    return buffer;
  }

  /** Registers a child module under {@code name}. */
  protected final <M extends Module> M registerModule(String name, M module) {
    if (module == null) {
      throw new IllegalArgumentException(name() + ": module '" + name + "' must not be null");
    }
    checkNewName(name);
    modules.put(name, module);
    return module;
  }

  private void checkNewName(String name) {
    if (name.isEmpty() || name.contains(".")) {
      throw new IllegalArgumentException(name() + ": '" + name + "' is not a valid name (non-empty, no dots)");
    }
    if (parameters.containsKey(name) || buffers.containsKey(name) || modules.containsKey(name)) {
      throw new IllegalArgumentException(name() + ": '" + name + "' is already registered");
    }
  }

  /**
   * Fails when a field named like an earlier child (a subclass's field hiding its superclass's)
   * holds another object: one of them would silently drop out of parameters() and the state dict.
   */
  private void requireOneHolder(Map<String, ?> named, Field f, Object value) {
    Object earlier = named.get(f.getName());
    if (earlier != null && earlier != value) {
      throw new IllegalStateException(name() + ": two " + (value instanceof Module ? "modules" : "parameters") + " are named '"
          + f.getName() + "': the field " + f.getDeclaringClass().getSimpleName() + "." + f.getName() + " and another of that"
          + " name (an inherited field it hides, or one registered under it); rename one, or assign the inherited field"
          + " instead of declaring a new one (make it non-final): PyTorch's self." + f.getName() + " = ... replaces the child");
    }
  }

  /**
   * Direct children, registered ones first, then {@link Module}-typed fields in declaration order;
   * a child held under two names is listed once, under its first, as PyTorch's {@code
   * named_children()}. The state dict and {@link #toString()} keep both names.
   */
  public Map<String, Module> namedChildren() {
    Map<String, Module> out = new LinkedHashMap<>();
    Set<Module> seen = Collections.newSetFromMap(new IdentityHashMap<>());
    allChildren().forEach((name, m) -> {
      if (seen.add(m)) {
        out.put(name, m);
      }
    });
    return out;
  }

  /**
   * This module and every descendant, each once, depth first in {@link #namedChildren()} order, by
   * dotted path ({@code ""} for this one), as PyTorch's {@code named_modules()}: {@code for (var m :
   * net.modules()) if (m instanceof Linear l) Init.kaimingNormal(l.weight());}.
   */
  public Map<String, Module> namedModules() {
    Map<String, Module> out = new LinkedHashMap<>();
    collectModules("", this, out, Collections.newSetFromMap(new IdentityHashMap<>()));
    return out;
  }

  /** The modules of {@link #namedModules()}, this one first (PyTorch's {@code modules()}). */
  public List<Module> modules() {
    return List.copyOf(namedModules().values());
  }

  private static void collectModules(String path, Module m, Map<String, Module> out, Set<Module> seen) {
    if (!seen.add(m)) {
      return;
    }
    out.put(path, m);
    m.namedChildren().forEach((name, child) -> collectModules(path.isEmpty() ? name : path + "." + name, child, out, seen));
  }

  /** Every child under every name it is held by (PyTorch's {@code _modules}): registered ones, then fields. */
  final Map<String, Module> allChildren() {
    Map<String, Module> out = new LinkedHashMap<>(modules);
    for (Field f : declaredFields()) {
      if (Module.class.isAssignableFrom(f.getType())) {
        Module m = (Module) read(f);
        if (m != null) {
          requireOneHolder(out, f, m);
          out.putIfAbsent(f.getName(), m);
        }
      }
    }
    return out;
  }

  /**
   * The descendant at a dotted path, as PyTorch's {@code get_submodule}: {@code "features.0"}.
   *
   * @throws IllegalArgumentException naming the missing part and what exists there
   */
  public Module getSubmodule(String path) {
    Module m = this;
    for (String part : path.split("\\.")) {
      Map<String, Module> children = m.allChildren();
      Module next = children.get(part);
      if (next == null) {
        throw new IllegalArgumentException(
            name() + " has no submodule '" + path + "': '" + part + "' is not among " + children.keySet());
      }
      m = next;
    }
    return m;
  }

  /**
   * This module's own parameters: registered ones, then {@link Tensor} fields holding a leaf that
   * requires grad or ever did ({@link Tensor#everRequiredGrad}: a field parameter frozen with
   * {@code requiresGrad(false)} stays one, as a frozen {@code nn.Parameter} does).
   */
  private Map<String, Tensor> ownParameters() {
    Map<String, Tensor> out = new LinkedHashMap<>(parameters);
    for (Field f : declaredFields()) {
      if (f.getType() == Tensor.class) {
        Tensor t = (Tensor) read(f);
        if (t != null && t.isLeaf() && t.everRequiredGrad() && !out.containsValue(t)) {
          requireOneHolder(out, f, t);
          out.putIfAbsent(f.getName(), t);
        }
      }
    }
    return out;
  }

  /** This module's own parameters then its own buffers: its part of the state dict. */
  private Map<String, Tensor> ownState() {
    Map<String, Tensor> out = ownParameters();
    buffers.forEach((name, t) -> {
      if (!transientBuffers.contains(name)) {
        out.put(name, t);
      }
    });
    return out;
  }

  /**
   * Every parameter with its dotted name, depth first, as PyTorch's {@code named_parameters()}: a
   * layer (or tensor) used twice is listed once, under its first name.
   */
  public Map<String, Tensor> namedParameters() {
    return collectOnce(Module::ownParameters);
  }

  /**
   * Every buffer with its dotted name, depth first, as PyTorch's {@code named_buffers()}: {@code
   * bn1.running_mean}, ...; each once, as {@link #namedParameters()}.
   */
  public Map<String, Tensor> namedBuffers() {
    return collectOnce(m -> m.buffers);
  }

  /**
   * Parameters and buffers by dotted name in PyTorch's {@code state_dict()} order: for each module,
   * its own parameters, then its own buffers, then its children's entries, recursively. The values
   * are detached views sharing the data ({@code keep_vars=False}).
   */
  public Map<String, Tensor> stateDict() {
    Map<String, Tensor> out = collect(Module::ownState);
    out.replaceAll((name, t) -> t.detach());
    return out;
  }

  /**
   * The keys {@link #loadStateDict(Map, boolean)} skipped when not strict, as PyTorch's
   * {@code _IncompatibleKeys}: this module's keys the state lacked, and the state's keys this module
   * does not have, each in order.
   */
  public record IncompatibleKeys(List<String> missingKeys, List<String> unexpectedKeys) {
    public IncompatibleKeys {
      missingKeys = List.copyOf(missingKeys);
      unexpectedKeys = List.copyOf(unexpectedKeys);
    }
  }

  /**
   * Copies {@code state} into this module's parameters and buffers, strictly: the same as
   * {@code loadStateDict(state, true)}.
   *
   * @throws IllegalArgumentException listing every missing key, unexpected key and shape mismatch
   */
  public void loadStateDict(Map<String, Tensor> state) {
    loadStateDict(state, true);
  }

  /**
   * Copies {@code state} into this module's parameters and buffers in place, as PyTorch's
   * {@code load_state_dict}: the tensors stay the same objects, so an optimizer built on
   * {@link #parameters()} keeps training them. Values are converted to each tensor's type (float to
   * an {@link DType#INT32} buffer truncates toward zero, as PyTorch's {@code copy_}).
   *
   * <p>Nothing is copied unless everything fits. Shapes must always match; when {@code strict},
   * the keys must also be exactly those of {@link #stateDict()}, except that a batch norm's
   * {@code num_batches_tracked} may be absent (files from older PyTorch versions and converters
   * leave it out; it is then set to 0, as PyTorch does for a state dict without version
   * metadata). Every problem is reported at once, in PyTorch's words.
   *
   * @return the keys skipped when not strict (none when strict)
   * @throws IllegalArgumentException listing every missing key, unexpected key and shape mismatch
   */
  public IncompatibleKeys loadStateDict(Map<String, Tensor> state, boolean strict) {
    return loadStateDict(state, strict, "");
  }

  /** {@code source}, if not empty, says where the state came from in the message. */
  private IncompatibleKeys loadStateDict(Map<String, Tensor> state, boolean strict, String source) {
    Map<String, Tensor> own = collect(Module::ownState);
    // As PyTorch's BatchNorm for a state dict without version metadata (one read from a file): a
    // missing num_batches_tracked is not an error; the count starts again from 0.
    Map<String, Tensor> counters = collect(m -> m instanceof BatchNorm<?> b
        ? Map.of("num_batches_tracked", b.numBatchesTracked()) : Map.of());
    counters.keySet().removeIf(state::containsKey);
    List<String> missing = own.keySet().stream()
        .filter(k -> !state.containsKey(k) && !counters.containsKey(k)).collect(Collectors.toList());
    List<String> unexpected = state.keySet().stream().filter(k -> !own.containsKey(k)).collect(Collectors.toList());
    List<String> errors = new ArrayList<>();
    if (strict && !missing.isEmpty()) {
      errors.add("Missing key(s) in state_dict: " + quoted(missing) + ".");
    }
    if (strict && !unexpected.isEmpty()) {
      errors.add("Unexpected key(s) in state_dict: " + quoted(unexpected) + ".");
    }
    own.forEach((key, target) -> {
      Tensor value = state.get(key);
      if (value != null && !Arrays.equals(value.shape(), target.shape())) {
        errors.add("size mismatch for " + key + ": copying a param with shape " + Shapes.toString(value.shape())
            + " from checkpoint, the shape in current model is " + Shapes.toString(target.shape()) + ".");
      } else if (value == null && state.containsKey(key)) {
        errors.add("null value for " + key + ".");
      } else if (value != null && target.dtype() == DType.INT32 && value.dtype() != DType.INT32) {
        Float bad = notInt32(value.toFloatArray());
        if (bad != null) {
          errors.add("value " + bad + " for " + key + " (an int32 buffer) is not a number within +-2^24, "
              + "the range int32 tensors (stored as exact floats) hold.");
        }
      }
    });
    if (strict && state.containsKey("epoch") && state.containsKey("rng")
        && state.keySet().stream().anyMatch(k -> k.startsWith("model."))) {
      errors.add("This looks like a training checkpoint (Checkpoint.save): resume with Checkpoint.load(file, "
          + "model::loadStateDict, optimizer, scheduler), or load its weights alone with "
          + "loadStateDict(Checkpoint.modelState(file)).");
    }
    if (!errors.isEmpty()) {
      throw new IllegalArgumentException("Error(s) in loading state_dict for " + name() + source + ":\n\t"
          + String.join("\n\t", errors));
    }
    own.forEach((key, target) -> {
      Tensor value = state.get(key);
      if (value != null) {
        copyInto(target, value);
      }
    });
    counters.values().forEach(counter -> counter.buffer()[counter.offset()] = 0);
    return new IncompatibleKeys(missing, unexpected);
  }

  /** The first value that is not an int32 tensor's once truncated toward zero (NaN, infinite, beyond 2^24), or null. */
  private static Float notInt32(float[] values) {
    for (float v : values) {
      if (!(Math.abs(v) <= DType.MAX_EXACT_INT)) { // true for NaN too
        return v;
      }
    }
    return null;
  }

  /** Overwrites {@code target}'s values with {@code source}'s (same shape), converting to target's type. */
  private static void copyInto(Tensor target, Tensor source) {
    float[] values = source.toFloatArray();
    if (target.dtype() == DType.INT32 && source.dtype() != DType.INT32) {
      for (int i = 0; i < values.length; i++) {
        values[i] = (float) (long) values[i];
      }
    }
    System.arraycopy(values, 0, target.buffer(), target.offset(), values.length);
  }

  private static String quoted(List<String> keys) {
    return keys.stream().map(k -> '"' + k + '"').collect(Collectors.joining(", "));
  }

  /**
   * Saves {@link #stateDict()} to {@code file}, replacing any previous file atomically: in
   * PyTorch's own format ({@link TorchFiles#write}, what {@code torch.save(model.state_dict(), f)}
   * writes) when the name ends in {@code .pt} or {@code .pth}, else in the safetensors format
   * ({@link SafeTensors#write}). PyTorch reads both.
   */
  public void save(Path file) throws IOException {
    if (isTorchName(file)) {
      TorchFiles.write(file, stateDict());
    } else {
      SafeTensors.write(file, stateDict());
    }
  }

  /**
   * Loads a file written by {@link #save} or by PyTorch into this module, strictly (see {@link
   * #loadStateDict(Map, boolean)}): a {@code torch.save} file (found by its content, whatever its
   * name: {@link TorchFiles#read}) or a safetensors file. For a {@code torch.save} of a checkpoint
   * dict, pick the state dict by key: {@code loadStateDict(TorchFiles.read(file, "model"))}.
   *
   * @throws dev.kiln.runtime.io.CheckpointFormatException when the file is not valid safetensors
   *     or PyTorch, or is a PyTorch file that is not a state dict
   * @throws IllegalArgumentException, naming the file, when its tensors do not fit this module
   */
  public void load(Path file) throws IOException {
    Map<String, Tensor> state = TorchFiles.isTorchFile(file) ? TorchFiles.read(file) : SafeTensors.read(file);
    loadStateDict(state, true, " from " + file);
  }

  /** Whether {@link #save} writes {@code file} in PyTorch's format: a name ending in .pt or .pth. */
  private static boolean isTorchName(Path file) {
    Path name = file.getFileName();
    String lower = name == null ? "" : name.toString().toLowerCase(java.util.Locale.ROOT);
    return lower.endsWith(".pt") || lower.endsWith(".pth");
  }

  /** {@code own}'s entries of this module and, prefixed with their names, of its descendants, depth first. */
  private Map<String, Tensor> collect(Function<Module, Map<String, Tensor>> own) {
    Map<String, Tensor> out = new LinkedHashMap<>();
    collect("", own, out);
    return out;
  }

  /** Under every name, shared layers included, as PyTorch's {@code state_dict()} walks {@code _modules}. */
  private void collect(String prefix, Function<Module, Map<String, Tensor>> own, Map<String, Tensor> out) {
    own.apply(this).forEach((name, t) -> out.putIfAbsent(prefix + name, t));
    allChildren().forEach((name, child) -> child.collect(prefix + name + ".", own, out));
  }

  /** Each module and each tensor once, under its first name, as PyTorch's {@code named_modules()} memo. */
  private Map<String, Tensor> collectOnce(Function<Module, Map<String, Tensor>> own) {
    Map<String, Tensor> out = new LinkedHashMap<>();
    collectOnce("", own, out, Collections.newSetFromMap(new IdentityHashMap<>()),
        Collections.newSetFromMap(new IdentityHashMap<>()));
    return out;
  }

  private void collectOnce(String prefix, Function<Module, Map<String, Tensor>> own, Map<String, Tensor> out,
      Set<Module> modulesSeen, Set<Tensor> tensorsSeen) {
    if (!modulesSeen.add(this)) {
      return;
    }
    own.apply(this).forEach((name, t) -> {
      if (tensorsSeen.add(t)) {
        out.putIfAbsent(prefix + name, t);
      }
    });
    namedChildren().forEach((name, child) -> child.collectOnce(prefix + name + ".", own, out, modulesSeen, tensorsSeen));
  }

  /** Every parameter, in {@link #namedParameters()} order, for an optimizer. */
  public List<Tensor> parameters() {
    List<Tensor> out = new ArrayList<>();
    for (Tensor t : namedParameters().values()) {
      if (!out.contains(t)) { // a layer used twice contributes its parameters once
        out.add(t);
      }
    }
    return out;
  }

  /**
   * Sets {@code requiresGrad} on every parameter of this module and its descendants, PyTorch's
   * {@code module.requires_grad_(False)}: freezes (or unfreezes) a feature extractor in one call. A
   * frozen parameter gets no gradient and an optimizer leaves it alone.
   */
  public Module requiresGrad(boolean requiresGrad) {
    for (Tensor p : parameters()) {
      p.requiresGrad(requiresGrad);
    }
    return this;
  }

  /** Total number of parameter values. */
  public long parameterCount() {
    long n = 0;
    for (Tensor t : parameters()) {
      n += t.numel();
    }
    return n;
  }

  /**
   * Zeroes the gradient of every parameter in place, as PyTorch 1.13's {@code zero_grad()} (and
   * {@link dev.kiln.runtime.optim.Optimizer#zeroGrad}): gradients keep their memory; parameters
   * without one stay without.
   */
  public void zeroGrad() {
    zeroGrad(false);
  }

  /** {@link #zeroGrad()}, or with {@code setToNone} the gradients dropped instead ({@code set_to_none=True}). */
  public void zeroGrad(boolean setToNone) {
    for (Tensor p : parameters()) {
      if (setToNone) {
        p.setGrad(null);
      } else if (p.grad() != null) {
        p.grad().zero();
      }
    }
  }

  /** Training mode (the default): dropout drops, batch norm uses batch statistics. */
  public Module train() {
    return train(true);
  }

  public Module train(boolean on) {
    training = on;
    namedChildren().values().forEach(c -> c.train(on));
    return this;
  }

  /** Evaluation mode: the same as {@code train(false)}. */
  public Module eval() {
    return train(false);
  }

  public boolean isTraining() {
    return training;
  }

  /**
   * Moves this module's parameters (with their gradients) and buffers to {@code device}, in place,
   * as PyTorch's {@code module.to(device)}: the same tensor objects, so an optimizer made before
   * the move keeps working.
   */
  public Module to(Device device) {
    namedParameters().values().forEach(t -> t.moveTo(device));
    namedBuffers().values().forEach(t -> t.moveTo(device));
    return this;
  }

  /** The class name shown in {@link #toString()}. */
  protected String name() {
    return getClass().getSimpleName().isEmpty() ? getClass().getName() : getClass().getSimpleName();
  }

  /** Hyper-parameters shown between the parentheses of {@link #toString()}, like PyTorch's {@code extra_repr}. */
  protected String extraRepr() {
    return "";
  }

  /**
   * A number as Python's {@code repr} writes it, for reprs that match PyTorch's: {@code 0.1},
   * {@code 1e-05}, {@code 1.0}, {@code 1e+16} (shortest digits; scientific below 1e-4 and from 1e16).
   */
  protected static String pythonRepr(double value) {
    if (Double.isNaN(value)) {
      return "nan";
    }
    if (Double.isInfinite(value)) {
      return value > 0 ? "inf" : "-inf";
    }
    if (value == 0) {
      return 1 / value < 0 ? "-0.0" : "0.0";
    }
    BigDecimal d = new BigDecimal(Double.toString(Math.abs(value))).stripTrailingZeros();
    String digits = d.unscaledValue().toString();
    int exponent = digits.length() - 1 - d.scale(); // |value| = d.ddd * 10^exponent
    String sign = value < 0 ? "-" : "";
    if (exponent < -4 || exponent >= 16) {
      String mantissa = digits.length() == 1 ? digits : digits.charAt(0) + "." + digits.substring(1);
      return sign + mantissa + "e" + (exponent < 0 ? "-" : "+") + (Math.abs(exponent) < 10 ? "0" : "") + Math.abs(exponent);
    }
    String plain = d.toPlainString();
    return sign + (plain.contains(".") ? plain : plain + ".0");
  }

  /** The module tree in PyTorch's layout: {@code Sequential(\n  (0): Linear(in_features=..., ...)\n)}. */
  @Override
  public String toString() {
    Map<String, Module> children = allChildren();
    if (children.isEmpty()) {
      return name() + "(" + extraRepr() + ")";
    }
    StringBuilder sb = new StringBuilder(name()).append('(');
    String extra = extraRepr();
    if (!extra.isEmpty()) {
      sb.append("\n  ").append(extra);
    }
    children.forEach((n, c) -> sb.append("\n  (").append(n).append("): ").append(c.toString().replace("\n", "\n  ")));
    return sb.append("\n)").toString();
  }

  /** Checks that {@code shape} has the given rank; the message names this layer. */
  protected final void requireRank(int[] shape, int minRank, String expected) {
    if (shape.length < minRank) {
      throw new ShapeException(this + " expects " + expected + ", receives " + Shapes.toString(shape));
    }
  }

  private List<Field> declaredFields() {
    List<Class<?>> chain = new ArrayList<>();
    for (Class<?> c = getClass(); c != null && c != Module.class; c = c.getSuperclass()) {
      chain.add(0, c);
    }
    List<Field> out = new ArrayList<>();
    for (Class<?> c : chain) {
      for (Field f : c.getDeclaredFields()) {
        int mod = f.getModifiers();
        if (!Modifier.isStatic(mod) && !Modifier.isTransient(mod) && !f.isSynthetic()) {
          out.add(f);
        }
      }
    }
    return out;
  }

  private Object read(Field f) {
    try {
      f.setAccessible(true);
      return f.get(this);
    } catch (ReflectiveOperationException | RuntimeException e) {
      throw new IllegalStateException(
          "cannot read field '" + f.getName() + "' of " + getClass().getName()
              + " to find its layers; if the class is in a named Java module, open its package to dev.kiln.dsl", e);
    }
  }
}
