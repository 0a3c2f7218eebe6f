package dev.kiln.dsl;

import dev.kiln.runtime.Device;
import dev.kiln.runtime.Intermediates;
import dev.kiln.runtime.Tensor;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Layers applied in order. {@code Sequential.of(a, b, c)} names the children {@code 0, 1, 2}
 * (state dict keys {@code 0.weight}, ...); {@link #builder()} gives them names of your own, as
 * PyTorch's {@code OrderedDict} form does.
 */
public class Sequential extends Module implements Iterable<Module> {
  private final List<Module> layers;
  private final List<String> names;

  private Sequential(Map<String, Module> named) {
    if (named.isEmpty()) {
      throw new IllegalArgumentException("Sequential needs at least one layer");
    }
    named.forEach(this::registerModule);
    this.layers = List.copyOf(named.values());
    this.names = List.copyOf(named.keySet());
  }

  public static Sequential of(Module... layers) {
    Builder b = builder();
    for (Module m : layers) {
      b.add(m);
    }
    return b.build();
  }

  public static Builder builder() {
    return new Builder();
  }

  /**
   * Applies the layers in order. A layer that cannot take its input's shape throws a {@link
   * ShapeException} naming it by its name in this Sequential: {@code Sequential layer 'fc2':
   * Linear(in_features=5, ...) expects [N, 5], receives [2, 3]}.
   *
   * <p>Under {@link dev.kiln.runtime.Kiln#noGrad()}, on the CPU, when every layer in it is one of the dsl's own, each
   * layer's output goes back to the thread's array pool once the next layer has returned (unless the input, the output
   * or a value not computed yet still reads it), as PyTorch's caching allocator reuses freed memory ({@link
   * Intermediates}).
   */
  @Override
  public Tensor forward(Tensor x) {
    Intermediates outputs = intermediates(x); // under no grad: each output given back once the next layer has read it
    for (int i = 0; i < layers.size(); i++) {
      try {
        x = layers.get(i).apply(x);
      } catch (ShapeException e) {
        throw named(names.get(i), e);
      }
      if (outputs != null) {
        outputs.next(x);
      }
    }
    return x;
  }

  /** {@code e} with the layer's name in front, once (the innermost Sequential names its layer first). */
  private static ShapeException named(String name, ShapeException e) {
    String prefix = "Sequential layer '" + name + "'";
    ShapeException out = new ShapeException(prefix + (e.getMessage().startsWith("Sequential layer '")
        ? " > " + e.getMessage().substring("Sequential layer ".length()) : ": " + e.getMessage()));
    out.initCause(e);
    return out;
  }

  // to, train and eval return the Sequential, so that Sequential.of(...).to(device) is one (as PyTorch's) statement

  @Override
  public Sequential to(Device device) {
    super.to(device);
    return this;
  }

  @Override
  public Sequential train() {
    super.train();
    return this;
  }

  @Override
  public Sequential train(boolean on) {
    super.train(on);
    return this;
  }

  @Override
  public Sequential eval() {
    super.eval();
    return this;
  }

  /** The layers' shape rules in turn; a {@link ShapeException} names the layer as {@link #forward} does. */
  @Override
  public int[] outputShape(int[] in) {
    int[] shape = in;
    for (int i = 0; i < layers.size(); i++) {
      try {
        shape = layers.get(i).outputShape(shape);
      } catch (ShapeException e) {
        throw named(names.get(i), e);
      }
    }
    return shape;
  }

  /**
   * The layer at a position, 0 to {@link #size()} - 1, typed as the caller assigns it ({@code Linear
   * fc = net.get(1);}, PyTorch's {@code net[1]}); a layer of another type is a {@code ClassCastException}
   * at that assignment, as an explicit cast would be.
   */
  @SuppressWarnings("unchecked")
  public <M extends Module> M get(int index) {
    if (index < 0 || index >= layers.size()) {
      throw new IndexOutOfBoundsException(
          "Sequential has " + layers.size() + " layers (0.." + (layers.size() - 1) + "), asked for index " + index);
    }
    return (M) layers.get(index);
  }

  /** The layer with a name ({@code "0"} for the first unnamed one). */
  public Module get(String name) {
    Module m = allChildren().get(name);
    if (m == null) {
      throw new IllegalArgumentException("Sequential has no layer named '" + name + "'; it has " + allChildren().keySet());
    }
    return m;
  }

  public int size() {
    return layers.size();
  }

  /**
   * The layers in order (read-only), as iterating PyTorch's {@code nn.Sequential} gives them: {@code for (Module layer :
   * seq) x = layer.apply(x);} is {@code seq.apply(x)} written out.
   */
  @Override
  public java.util.Iterator<Module> iterator() {
    return layers.iterator();
  }

  /** Collects layers with names; unnamed ones get their position as name. */
  public static final class Builder {
    private final Map<String, Module> named = new LinkedHashMap<>();
    private final List<String> order = new ArrayList<>();

    private Builder() {}

    public Builder add(String name, Module layer) {
      if (layer == null) {
        throw new IllegalArgumentException("Sequential: layer '" + name + "' is null");
      }
      if (named.containsKey(name)) {
        throw new IllegalArgumentException("Sequential.builder(): the name '" + name + "' is used twice");
      }
      named.put(name, layer);
      order.add(name);
      return this;
    }

    public Builder add(Module layer) {
      return add(Integer.toString(named.size()), layer);
    }

    public Sequential build() {
      return new Sequential(named);
    }
  }
}
