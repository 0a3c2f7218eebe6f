package dev.kiln.dsl;

import dev.kiln.runtime.Device;
import dev.kiln.runtime.Tensor;
import java.util.Iterator;
import java.util.List;

/**
 * Modules held in a list, as PyTorch's {@code nn.ModuleList}: {@code ModuleList.of(new Block(), new
 * Block())}, or {@code new ModuleList<>(blocks)} from a list built in a loop. The children are named
 * {@code 0}, {@code 1}, ... so that state-dict keys are PyTorch's ({@code h.0.ln1.weight}); {@link
 * #parameters()}, {@link #to}, {@link #train}/{@link #eval}, {@code save}/{@code load} and {@code
 * toString} reach them as they reach any child.
 *
 * <p>A ModuleList is not applied itself (PyTorch's is not callable): the owner's forward applies its
 * modules, {@code for (Block b : h) x = b.apply(x);} as nanoGPT's {@code for block in self.h: x =
 * block(x)}. A {@code @Model}'s forward written so compiles (the loop unrolled), as does {@code for (int
 * i = 0; i < h.size(); i++) x = h.get(i).apply(x);}.
 *
 * @param <M> the modules' type ({@code ModuleList<Block>}), so that {@link #get} and iteration give it
 */
public class ModuleList<M extends Module> extends Module implements Iterable<M> {
  private final List<M> modules;

  /** The modules of {@code modules}, in order, as PyTorch's {@code nn.ModuleList(modules)}; the list is copied. */
  public ModuleList(List<? extends M> modules) {
    if (modules == null) {
      throw new IllegalArgumentException("ModuleList: the list of modules is null");
    }
    for (int i = 0; i < modules.size(); i++) {
      if (modules.get(i) == null) {
        throw new IllegalArgumentException("ModuleList: module " + i + " of " + modules.size() + " is null");
      }
    }
    this.modules = List.copyOf(modules);
    for (int i = 0; i < this.modules.size(); i++) {
      registerModule(Integer.toString(i), this.modules.get(i));
    }
  }

  /** {@code ModuleList.of(new Block(), new Block())}: the modules in order, named 0, 1, ... */
  @SafeVarargs
  public static <M extends Module> ModuleList<M> of(M... modules) {
    if (modules == null) {
      throw new IllegalArgumentException("ModuleList.of: the array of modules is null");
    }
    return new ModuleList<>(java.util.Arrays.asList(modules));
  }

  /**
   * The module at {@code index}, counted from the end when negative ({@code get(-1)} is the last), as
   * PyTorch's {@code h[i]}.
   *
   * @throws IndexOutOfBoundsException naming the index and the size
   */
  public M get(int index) {
    int size = modules.size();
    if (index < -size || index >= size) {
      throw new IndexOutOfBoundsException("ModuleList index " + index + " is out of range: it holds " + size
          + " module" + (size == 1 ? "" : "s") + (size == 0 ? "" : " (0.." + (size - 1) + ", or -" + size + "..-1 from the end)"));
    }
    return modules.get(index < 0 ? index + size : index);
  }

  /** The number of modules, PyTorch's {@code len(h)}. */
  public int size() {
    return modules.size();
  }

  /** Whether it holds no module. */
  public boolean isEmpty() {
    return modules.isEmpty();
  }

  /** The modules in order (read-only). */
  @Override
  public Iterator<M> iterator() {
    return modules.iterator();
  }

  /** The modules in order, as an unmodifiable list. */
  public List<M> asList() {
    return modules;
  }

  /**
   * Refused, as PyTorch's {@code ModuleList} has no {@code forward}: apply its modules in the owner's
   * forward, one after the other or as the model needs them.
   *
   * @throws UnsupportedOperationException always
   */
  @Override
  public Tensor forward(Tensor x) {
    throw new UnsupportedOperationException(notApplied());
  }

  /** Refused as {@link #forward} is. */
  @Override
  public int[] outputShape(int[] inputShape) {
    throw new UnsupportedOperationException(notApplied());
  }

  private String notApplied() {
    return "ModuleList is not a layer and has no forward (as PyTorch's nn.ModuleList): apply its modules in your forward,"
        + " for (var m : list) x = m.apply(x); or use Sequential.of(...) for layers applied in order";
  }

  // to, train and eval return the ModuleList, as Sequential's do

  @Override
  public ModuleList<M> to(Device device) {
    super.to(device);
    return this;
  }

  @Override
  public ModuleList<M> train() {
    super.train();
    return this;
  }

  @Override
  public ModuleList<M> train(boolean on) {
    super.train(on);
    return this;
  }

  @Override
  public ModuleList<M> eval() {
    super.eval();
    return this;
  }
}
