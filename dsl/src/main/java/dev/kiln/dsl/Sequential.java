package dev.kiln.dsl;

import dev.kiln.runtime.Device;
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
public class Sequential extends Module {
  private final List<Module> layers;

  private Sequential(Map<String, Module> named) {
    if (named.isEmpty()) {
      throw new IllegalArgumentException("Sequential needs at least one layer");
    }
    named.forEach(this::registerModule);
    this.layers = List.copyOf(named.values());
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

  @Override
  public Tensor forward(Tensor x) {
    for (Module m : layers) {
      x = m.apply(x);
    }
    return x;
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

  @Override
  public int[] outputShape(int[] in) {
    int[] shape = in;
    for (Module m : layers) {
      shape = m.outputShape(shape);
    }
    return shape;
  }

  /** The layer at a position. */
  public Module get(int index) {
    return layers.get(index);
  }

  /** The layer with a name ({@code "0"} for the first unnamed one). */
  public Module get(String name) {
    Module m = namedChildren().get(name);
    if (m == null) {
      throw new IllegalArgumentException("Sequential has no layer named '" + name + "'; it has " + namedChildren().keySet());
    }
    return m;
  }

  public int size() {
    return layers.size();
  }

  /** Collects layers with names; unnamed ones get their position as name. */
  public static final class Builder {
    private final Map<String, Module> named = new LinkedHashMap<>();
    private final List<String> order = new ArrayList<>();

    private Builder() {}

    public Builder add(String name, Module layer) {
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
