package dev.kiln.runtime.cpu;

import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;

/**
 * The CPU backend's own fork-join: splits a kernel's range of items (samples, channels, rows of a
 * product) into one contiguous part per core and runs the parts at once, the caller taking the
 * first. OpenBLAS runs single-threaded under it ({@link Blas} splits large products here), so
 * every core is Kiln's: measured, OpenBLAS's own workers spin between calls and took the second
 * core from any Java loop run beside them.
 *
 * <p>Parts are fixed by the item count and {@link #threads()} alone, so results are the same from
 * run to run (a reduction split into parts sums them in part order). Workers spin for a short
 * while after each region (kernels follow each other within microseconds), then park. A part that
 * its worker has not started when the caller is done with its own runs on the caller (a worker
 * the OS has descheduled, on a loaded machine, costs no wait); who runs a part does not change
 * its result. Only one
 * region runs at a time: a region started while another is running (another thread's model, or a
 * kernel inside a part) runs its parts one after the other on its own thread. Set the number of
 * threads with {@code -Dkiln.threads=N} (default: the available processors).
 */
public final class Parallel {
  /** Work below this many elements is not worth a hand-off (a few microseconds). */
  private static final long MIN_WORK = 1 << 15;

  /** How long a worker spins for the next region before parking. */
  private static final long SPIN_NANOS = 200_000;

  private static final int THREADS = Math.max(1, Integer.getInteger("kiln.threads", Runtime.getRuntime().availableProcessors()));
  private static final AtomicBoolean BUSY = new AtomicBoolean();
  private static final Worker[] WORKERS = startWorkers();

  private Parallel() {}

  /** One part of a region: items {@code [from, to)}; {@code part} in {@code [0, threads())} picks per-part scratch. */
  @FunctionalInterface
  public interface Body {
    void run(int part, int from, int to);
  }

  /** Parts a region is split into at most; per-part scratch needs this many slots. */
  public static int threads() {
    return THREADS;
  }

  /** Whether a region is running (on any thread): a kernel inside a part should not split again. */
  public static boolean busy() {
    return BUSY.get();
  }

  /**
   * Runs {@code body} over {@code [0, items)} split into up to {@link #threads()} contiguous parts
   * of (nearly) equal size, and returns when all are done. {@code work} is the total number of
   * elements touched: below a few tens of thousands the region runs inline as one part. An
   * exception thrown by a part is rethrown here after every part has finished.
   */
  public static void forRange(int items, long work, Body body) {
    int parts = Math.min(THREADS, items);
    if (parts <= 1 || work < MIN_WORK || !BUSY.compareAndSet(false, true)) {
      runInline(items, parts, work, body);
      return;
    }
    try {
      for (int w = 1; w < parts; w++) {
        WORKERS[w - 1].start(body, w, bound(items, parts, w), bound(items, parts, w + 1));
      }
      Throwable failure = null;
      try {
        body.run(0, 0, bound(items, parts, 1));
      } catch (Throwable t) {
        failure = t;
      }
      for (int w = 1; w < parts; w++) {
        Throwable t = WORKERS[w - 1].await();
        if (failure == null) {
          failure = t;
        }
      }
      rethrow(failure);
    } finally {
      BUSY.set(false);
    }
  }

  /** Same parts, one after the other on this thread: the results do not depend on which path ran. */
  private static void runInline(int items, int parts, long work, Body body) {
    if (items <= 0) {
      return;
    }
    if (work < MIN_WORK || parts <= 1) {
      body.run(0, 0, items);
      return;
    }
    for (int w = 0; w < parts; w++) {
      body.run(w, bound(items, parts, w), bound(items, parts, w + 1));
    }
  }

  private static int bound(int items, int parts, int part) {
    return (int) ((long) items * part / parts);
  }

  private static void rethrow(Throwable t) {
    if (t instanceof RuntimeException e) {
      throw e;
    }
    if (t instanceof Error e) {
      throw e;
    }
    if (t != null) {
      throw new IllegalStateException(t);
    }
  }

  private static Worker[] startWorkers() {
    Worker[] workers = new Worker[THREADS - 1];
    for (int i = 0; i < workers.length; i++) {
      workers[i] = new Worker(i + 1);
    }
    return workers;
  }

  /**
   * A daemon thread that runs one part per region. The hand-off is a pair of volatile counters
   * ({@code posted}, {@code finished}); each side spins, then parks after flagging that it did,
   * and the other side unparks it only when the flag is set (the flag is written before the
   * counter is re-read, so no wake-up is lost). Whoever first moves {@code claimed} to a region's
   * number runs its part: the worker when it sees the region, or the caller in {@link #await} when
   * the worker has not yet (the worker then skips that region).
   */
  private static final class Worker implements Runnable {
    private final Thread thread;
    private volatile long posted;
    private volatile long finished;
    /** The last region whose part someone (the worker or the caller) has taken. */
    private final AtomicLong claimed = new AtomicLong();
    private volatile boolean workerParked;
    private volatile boolean callerParked;
    private volatile Thread caller;
    private Body body;
    private int part, from, to;
    private Throwable failure;

    Worker(int index) {
      thread = new Thread(this, "kiln-cpu-" + index);
      thread.setDaemon(true);
      thread.start();
    }

    void start(Body body, int part, int from, int to) {
      this.body = body;
      this.part = part;
      this.from = from;
      this.to = to;
      this.failure = null;
      this.caller = Thread.currentThread();
      posted = posted + 1; // publishes the fields above
      if (workerParked) {
        LockSupport.unpark(thread);
      }
    }

    Throwable await() {
      long target = posted;
      if (claimed.compareAndSet(target - 1, target)) { // not started: the caller runs it
        Body b = body;
        body = null;
        try {
          b.run(part, from, to);
          return null;
        } catch (Throwable t) {
          return t;
        }
      }
      long spinUntil = System.nanoTime() + SPIN_NANOS;
      while (finished != target) {
        if (System.nanoTime() < spinUntil) {
          Thread.onSpinWait();
          continue;
        }
        callerParked = true;
        if (finished != target) {
          LockSupport.park(this);
        }
        callerParked = false;
      }
      return failure;
    }

    @Override
    public void run() {
      long seen = 0;
      while (true) {
        long spinUntil = System.nanoTime() + SPIN_NANOS;
        while (posted == seen) {
          if (System.nanoTime() < spinUntil) {
            Thread.onSpinWait();
            continue;
          }
          workerParked = true;
          if (posted == seen) {
            LockSupport.park(this);
          }
          workerParked = false;
        }
        seen = posted;
        if (!claimed.compareAndSet(seen - 1, seen)) {
          continue; // the caller took this region's part
        }
        try {
          body.run(part, from, to);
        } catch (Throwable t) {
          failure = t;
        }
        body = null;
        finished = seen; // publishes failure
        if (callerParked) {
          LockSupport.unpark(caller);
        }
      }
    }
  }
}
