package dev.kiln.runtime;

import java.util.ArrayList;
import java.util.List;

/**
 * The outputs of layers run one after another, each reading the one before (a {@code Sequential}'s children, a
 * {@code TransformerEncoder}'s layers), under {@link Kiln#noGrad()}: once layer {@code i + 1} has returned, layer {@code
 * i}'s output is dead unless something still reads it, and its array goes back to the thread's {@link ArrayPool}, where
 * the next output of its length takes it, still in the cache (PyTorch's caching allocator hands back the block just
 * freed the same way). A fresh multi-megabyte array costs its writes to memory outside the cache: a 4 MB map 0.85 ms of
 * a 1.9 ms depthwise layer (docs/benchmarks.md). On CUDA the output's device block goes back to the CUDA caching
 * allocator instead of waiting for the collector to find its storage unreachable, so a deep stack under no grad holds
 * a few maps at once rather than every map made since the last collection (docs/cuda.md).
 *
 * <p>For the dsl's containers, which know what their children are; not for users. The caller promises that nothing
 * but the outputs it passes here holds any output it passes (no layer keeps its input or output, no hook sees them);
 * this class then gives back an output's storage only when it is neither the run's input nor its latest output, nor
 * read by a deferred value of theirs (a batch norm's output not computed yet reads the convolution's), nor holds an
 * array a caller may have been handed ({@link Storage#isSealed}). A storage given back throws at any later use rather
 * than show another tensor's values ({@link Storage#release}).
 *
 * <pre>{@code
 * Intermediates run = Intermediates.track(x); // null unless no grad
 * for (Module layer : layers) {
 *   x = layer.apply(x);
 *   if (run != null) run.next(x);
 * }
 * }</pre>
 */
public final class Intermediates {
  private final Storage input;
  /** Outputs passed to {@link #next} and not given back yet (the latest among them). */
  private final List<Storage> held = new ArrayList<>();

  private Intermediates(Storage input) {
    this.input = input;
  }

  /**
   * A tracker of the layers' outputs after {@code input}, or null when none may be given back: gradients are recorded
   * (the graph's nodes hold the outputs for the backward). On CUDA an output's device block goes back to the CUDA
   * caching allocator ({@link Storage#release}), for the next output of its size class.
   */
  public static Intermediates track(Tensor input) {
    return Kiln.isGradEnabled() ? null : new Intermediates(input.storage());
  }

  /**
   * The next layer's {@code output}, computed from the previous output (or the input): every earlier output that
   * neither it nor the input reads any more is given back.
   */
  public void next(Tensor output) {
    Storage out = output.storage();
    List<Storage> live = live(out);
    for (int i = held.size() - 1; i >= 0; i--) {
      Storage s = held.get(i);
      if (!containsSame(live, s)) {
        s.release();
        held.remove(i);
      }
    }
    if (out != input && !containsSame(held, out)) {
      held.add(out);
    }
  }

  /**
   * Values the caller computed on its way and reads no more (a block's normalised input, its hidden map): each is given
   * back at the next {@link #next}, unless the input or that output still reads it. Null values and the input's are
   * skipped.
   */
  public void hold(Tensor... values) {
    for (Tensor v : values) {
      if (v != null && v.storage() != input && !containsSame(held, v.storage())) {
        held.add(v.storage());
      }
    }
  }

  /** The input's and {@code out}'s storages and every storage a deferred one among them reads, transitively. */
  private List<Storage> live(Storage out) {
    List<Storage> live = new ArrayList<>(4);
    live.add(input);
    if (out != input) {
      live.add(out);
    }
    for (int i = 0; i < live.size(); i++) {
      for (Storage source : live.get(i).pendingSources()) {
        if (source != null && !containsSame(live, source)) {
          live.add(source);
        }
      }
    }
    return live;
  }

  private static boolean containsSame(List<Storage> storages, Storage s) {
    for (Storage t : storages) {
      if (t == s) {
        return true;
      }
    }
    return false;
  }
}
