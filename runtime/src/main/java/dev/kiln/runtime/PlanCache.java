package dev.kiln.runtime;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.IntFunction;

/**
 * The buffer sets ("plans") of one compiled model, one per batch size, as generated code uses
 * them: a forward takes a plan for its batch size, writes its activations there and gives it back;
 * a backward takes the same plan again and reads them.
 *
 * <p>What this class guarantees:
 * <ul>
 *   <li>One plan is used by one call at a time. A forward that finds the cached plans of its batch
 *       size in use by other threads gets one of its own, kept too, so one model instance may run
 *       inference from several threads at once and a steady pool of them allocates nothing.</li>
 *   <li>A forward that recorded a graph leaves its plan held for its backward by the thread that
 *       ran it: another thread's forward does not overwrite those activations (it takes or makes
 *       another plan). The same thread may have {@link #PENDING} forwards of one batch size
 *       awaiting their backwards (a GAN's discriminator on real and on fake images before one
 *       {@code backward}, a siamese pair); its next forward takes a plan whose backward has run,
 *       else a new one while fewer are pending, else the least recently used pending one, which
 *       discards that graph, as a loop that skips its backwards expects. That graph's backward then
 *       fails in words ({@link Entry#enterBackward}) instead of using overwritten activations.</li>
 *   <li>Only the plans of the {@link #KEEP} most recently used batch sizes are kept between calls
 *       (as many of each as calls of that size ran at once), the others dropped as they are given
 *       back, so a model that sees many batch sizes (a server) does not keep a buffer set for each.</li>
 * </ul>
 *
 * @param <P> the generated plan type
 */
public final class PlanCache<P extends PlanCache.Entry> {
  /**
   * Batch sizes whose plans are kept between calls: a training loop's batch size and its last,
   * smaller batch, and an evaluation's two, without reallocation; more distinct sizes allocate as
   * the eager model does. Memory is then bounded by these sizes times the calls that ran at once.
   */
  public static final int KEEP = 4;

  /** Forwards of one batch size a thread may have awaiting their backwards, each on a plan of its own. */
  public static final int PENDING = 2;

  private final IntFunction<P> factory;
  /** Most recently used first. */
  private final List<P> kept = new ArrayList<>();

  public PlanCache(IntFunction<P> factory) {
    this.factory = factory;
  }

  /**
   * A plan for batch size {@code n}, taken for this thread until {@link Entry#release()}: a kept one
   * that no other call uses or holds (one this thread holds first), else a new one, made outside the
   * lock so that other threads' calls do not wait for its allocation.
   */
  public P acquire(int n) {
    return acquire(n, true);
  }

  /**
   * {@link #acquire(int)}; a forward that records no graph ({@code recording} false: under {@code
   * noGrad}) never takes a pending plan, so logging a loss between two pending forwards and their
   * backward leaves them intact.
   */
  public P acquire(int n, boolean recording) {
    Thread me = Thread.currentThread();
    synchronized (kept) {
      // first a plan this thread holds whose backward has run (the common loop), or a free one
      for (int pass = 0; pass < 2; pass++) {
        for (int i = 0; i < kept.size(); i++) {
          P p = kept.get(i);
          boolean wanted = pass == 0 ? p.state.get() == me && p.backwardRan : p.state.get() != me;
          if (p.n == n && wanted && p.tryTake(me)) {
            kept.remove(i);
            kept.add(0, p);
            return p;
          }
        }
      }
      // then, when PENDING graphs of this thread await their backwards, the least recently used one's plan
      int pending = 0;
      int oldest = -1;
      for (int i = 0; i < kept.size(); i++) {
        P p = kept.get(i);
        if (p.n == n && p.state.get() == me) {
          pending++;
          oldest = i;
        }
      }
      if (recording && pending >= PENDING) {
        P p = kept.get(oldest);
        if (p.tryTake(me)) {
          kept.remove(oldest);
          kept.add(0, p);
          return p;
        }
      }
    }
    P p = factory.apply(n);
    p.tryTake(me);
    p.cache = this;
    synchronized (kept) {
      kept.add(0, p);
      trim();
    }
    return p;
  }

  /**
   * Drops the plans not in use whose batch size is not among the {@link #KEEP} most recently used;
   * those in use are dropped when they are given back. An evicted plan that a backward still holds
   * stays usable by that backward.
   */
  private void trim() {
    java.util.Set<Integer> recent = new java.util.LinkedHashSet<>();
    boolean stale = false;
    for (P p : kept) { // most recently used first
      if (recent.size() < KEEP || recent.contains(p.n)) {
        recent.add(p.n);
      } else {
        stale = true;
      }
    }
    if (!stale) {
      overfull = false;
      return;
    }
    kept.removeIf(p -> !recent.contains(p.n) && p.state.get() != Entry.BUSY);
    overfull = kept.stream().anyMatch(p -> !recent.contains(p.n));
  }

  /** Whether plans of sizes no longer among the most recent are kept (they were in use at the last trim). */
  private volatile boolean overfull;

  private void released() {
    if (overfull) {
      synchronized (kept) {
        trim();
      }
    }
  }

  /** Batch sizes of the plans kept now, most recently used first (for tests and diagnostics). */
  public int[] keptBatchSizes() {
    synchronized (kept) {
      return kept.stream().mapToInt(p -> p.n).toArray();
    }
  }

  /**
   * Base of a generated plan: its batch size, the count of forwards that have written it, and its
   * state, one atomic value: free, busy (a forward or backward runs on it), or held for the backward
   * of the thread it names (that thread's recorded forward wrote it; no other thread's forward may).
   */
  public abstract static class Entry {
    static final Object FREE = new Object();
    static final Object BUSY = new Object();

    /** The batch size the buffers are sized for. */
    public final int n;
    /** {@link #FREE}, {@link #BUSY} or the Thread whose backward it is held for. */
    final AtomicReference<Object> state = new AtomicReference<>(FREE);
    /** Set by {@link #holdForBackward()} while busy: the state {@link #release()} leaves. */
    private Thread holder;
    /** Whether a backward has gone through the graph of the forward that last wrote the plan. */
    volatile boolean backwardRan;
    /** The cache that made it, told of each release while it keeps too many plans. */
    PlanCache<?> cache;
    private int generation;

    protected Entry(int n) {
      this.n = n;
    }

    /**
     * Takes the plan for a forward on {@code me}: free, held for {@code me}, or held for a thread
     * that has ended (a pool thread whose graph can no longer be gone through). A plan held for
     * another live thread is never touched, not even for a moment.
     */
    boolean tryTake(Thread me) {
      Object s = state.get();
      boolean takeable = s == FREE || s == me || s instanceof Thread t && !t.isAlive();
      if (!takeable || !state.compareAndSet(s, BUSY)) {
        return false;
      }
      holder = null; // a new forward: the earlier graph's backward, if any, will fail in words
      backwardRan = false;
      generation++;
      return true;
    }

    /**
     * Marks the plan as held for the backward of the forward now running on this thread, and
     * returns the generation that backward must find ({@link #enterBackward}).
     */
    public int holdForBackward() {
      holder = Thread.currentThread();
      return generation;
    }

    /**
     * Takes the plan for the backward of the forward of {@code recordedGeneration}.
     *
     * @throws IllegalStateException when a later forward has written the plan since, or one is
     *     running on it now
     */
    public void enterBackward(String model, int recordedGeneration) {
      enterBackward(model, recordedGeneration, true);
    }

    /**
     * {@link #enterBackward(String, int)}, saying whether this is the graph's last backward: after
     * a {@code backward(true)} (retain_graph) the plan stays pending for the next one instead of
     * being free for the thread's next forward.
     */
    public void enterBackward(String model, int recordedGeneration, boolean last) {
      Object s = state.get();
      if (s == BUSY || !state.compareAndSet(s, BUSY)) {
        throw overwritten(model);
      }
      if (generation != recordedGeneration) {
        state.set(s);
        throw overwritten(model);
      }
      backwardRan = last;
    }

    /**
     * Throws, changing nothing, when a later forward has written the plan since the forward of
     * {@code recordedGeneration}: checked for every node before a backward adds any gradient.
     */
    public void checkIntact(String model, int recordedGeneration) {
      if (generation != recordedGeneration) {
        throw overwritten(model);
      }
    }

    private IllegalStateException overwritten(String model) {
      return new IllegalStateException(
          model + ": the activations of this graph (batch size " + n + ") were overwritten by later forwards of that size; a"
              + " compiled model keeps those of " + PENDING + " forwards awaiting their backwards (or retained by"
              + " backward(true)), so call backward before more forwards of that size");
    }

    /**
     * Gives the plan back after a forward or a backward: held for its recording thread's backward
     * (which may run again with retain_graph), or free.
     */
    public void release() {
      Thread h = holder;
      state.set(h != null ? h : FREE);
      if (cache != null) {
        cache.released();
      }
    }
  }
}
