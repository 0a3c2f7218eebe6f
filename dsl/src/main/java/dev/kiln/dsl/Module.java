package dev.kiln.dsl;

import dev.kiln.runtime.Device;
import dev.kiln.runtime.Shapes;
import dev.kiln.runtime.Tensor;
import java.lang.reflect.Field;
import java.lang.reflect.Modifier;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A network or a layer, like PyTorch's {@code nn.Module}. Subclasses declare their layers as
 * fields and implement {@link #forward}; children and parameters are found from those fields (in
 * declaration order) and from {@link #registerModule}/{@link #registerParameter}, so parameter
 * names are PyTorch's {@code state_dict} keys: {@code fc1.weight}, {@code 0.bias}, ... Static and
 * {@code transient} fields are not part of the tree (a transient field may point to a layer
 * registered elsewhere without registering it twice).
 *
 * <p>Import it by name ({@code import dev.kiln.dsl.Module;}): with only {@code dev.kiln.dsl.*},
 * javac finds {@code Module} ambiguous with {@code java.lang.Module}.
 */
public abstract class Module {
  private final Map<String, Tensor> parameters = new LinkedHashMap<>();
  private final Map<String, Module> modules = new LinkedHashMap<>();
  private boolean training = true;

  /** Computes the output for a batch. */
  public abstract Tensor forward(Tensor x);

  /** Calls {@link #forward}: write {@code fc1.apply(x)} as PyTorch users write {@code self.fc1(x)}. */
  public Tensor apply(Tensor x) {
    return forward(x);
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

  /** Registers a parameter under {@code name}; it must be a leaf tensor that requires grad. */
  protected final Tensor registerParameter(String name, Tensor parameter) {
    if (!parameter.requiresGrad() || !parameter.isLeaf()) {
      throw new IllegalArgumentException(name() + ": parameter '" + name + "' must be a leaf tensor that requires grad");
    }
    checkNewName(name);
    parameters.put(name, parameter);
    return parameter;
  }

  /** Registers a child module under {@code name}. */
  protected final <M extends Module> M registerModule(String name, M module) {
    checkNewName(name);
    modules.put(name, module);
    return module;
  }

  private void checkNewName(String name) {
    if (name.isEmpty() || name.contains(".")) {
      throw new IllegalArgumentException(name() + ": '" + name + "' is not a valid name (non-empty, no dots)");
    }
    if (parameters.containsKey(name) || modules.containsKey(name)) {
      throw new IllegalArgumentException(name() + ": '" + name + "' is already registered");
    }
  }

  /** Direct children, registered ones first, then {@link Module}-typed fields in declaration order. */
  public Map<String, Module> namedChildren() {
    Map<String, Module> out = new LinkedHashMap<>(modules);
    for (Field f : declaredFields()) {
      if (Module.class.isAssignableFrom(f.getType())) {
        Module m = (Module) read(f);
        if (m != null && !out.containsValue(m)) {
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
      Map<String, Module> children = m.namedChildren();
      Module next = children.get(part);
      if (next == null) {
        throw new IllegalArgumentException(
            name() + " has no submodule '" + path + "': '" + part + "' is not among " + children.keySet());
      }
      m = next;
    }
    return m;
  }

  /** This module's own parameters: registered ones, then {@link Tensor} fields that require grad. */
  private Map<String, Tensor> ownParameters() {
    Map<String, Tensor> out = new LinkedHashMap<>(parameters);
    for (Field f : declaredFields()) {
      if (f.getType() == Tensor.class) {
        Tensor t = (Tensor) read(f);
        if (t != null && t.requiresGrad() && t.isLeaf() && !out.containsValue(t)) {
          out.putIfAbsent(f.getName(), t);
        }
      }
    }
    return out;
  }

  /** Every parameter with its dotted name, depth first, as PyTorch's {@code named_parameters()}. */
  public Map<String, Tensor> namedParameters() {
    Map<String, Tensor> out = new LinkedHashMap<>();
    collectParameters("", out);
    return out;
  }

  private void collectParameters(String prefix, Map<String, Tensor> out) {
    ownParameters().forEach((name, p) -> out.putIfAbsent(prefix + name, p));
    namedChildren().forEach((name, child) -> child.collectParameters(prefix + name + ".", out));
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

  /** Total number of parameter values. */
  public long parameterCount() {
    long n = 0;
    for (Tensor t : parameters()) {
      n += t.numel();
    }
    return n;
  }

  /** Clears the gradients of every parameter. */
  public void zeroGrad() {
    parameters().forEach(p -> p.setGrad(null));
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

  /** This module with its parameters on {@code device}. */
  public Module to(Device device) {
    if (!device.isCpu()) {
      throw new IllegalStateException(name() + ".to(" + device + "): only the CPU backend is built");
    }
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

  /** The module tree in PyTorch's layout: {@code Sequential(\n  (0): Linear(in_features=..., ...)\n)}. */
  @Override
  public String toString() {
    Map<String, Module> children = namedChildren();
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
