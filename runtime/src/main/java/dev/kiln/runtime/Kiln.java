package dev.kiln.runtime;

import java.util.concurrent.atomic.AtomicLong;

/**
 * Global switches, as in PyTorch's {@code torch} namespace: the random seed and the gradient mode.
 *
 * <pre>{@code
 * Kiln.manualSeed(0);                       // initialisation, shuffling and dropout become reproducible
 * try (var g = Kiln.noGrad()) { ... }       // no tape is recorded inside the block
 * }</pre>
 */
public final class Kiln {
  private static final ThreadLocal<int[]> NO_GRAD_DEPTH = ThreadLocal.withInitial(() -> new int[1]);
  /**
   * One instance for the life of the program, so a reference to it never goes stale; seeding sets
   * its state. Unseeded, it starts from PyTorch's default CPU seed (67280421310721), so a program
   * that never calls {@link #manualSeed} is still reproducible, as it is in PyTorch.
   */
  private static final Generator GENERATOR = new Generator(67280421310721L);

  private Kiln() {}

  /** Seeds the global generator used by initialisation, {@code randn}, shuffling and dropout. */
  public static void manualSeed(long seed) {
    GENERATOR.setState(seed);
  }

  /**
   * The global generator. Every random draw in Kiln goes through it so that {@link #manualSeed}
   * makes a run reproducible and {@link #rngState()} captures where a run is in its random stream.
   */
  public static Generator generator() {
    return GENERATOR;
  }

  /** The global generator's state, for a checkpoint ({@code torch.get_rng_state()}). */
  public static long rngState() {
    return GENERATOR.state();
  }

  /**
   * Puts back a state read by {@link #rngState()}: the draws that follow are those that followed
   * it then ({@code torch.set_rng_state}).
   */
  public static void setRngState(long state) {
    GENERATOR.setState(state);
  }

  private static volatile boolean detectAnomaly;
  private static final AtomicLong BACKWARD_CALLS = new AtomicLong();

  /**
   * Turns anomaly detection on or off, as PyTorch's {@code torch.autograd.set_detect_anomaly}: while
   * on, {@link Tensor#backward()} throws a {@link NonFiniteException} when the loss it starts from is
   * NaN or infinite, or when an operation's backward returns a NaN or infinite gradient (naming the
   * operation, the input and its shape), with the number of the backward call since detection was
   * turned on: in a training loop, the step. Every gradient is read on the host, so it slows
   * training; turn it on to find where a run diverges. Turning it on restarts the count.
   */
  public static void setDetectAnomaly(boolean on) {
    BACKWARD_CALLS.set(0);
    detectAnomaly = on;
  }

  /** Whether {@link #setDetectAnomaly anomaly detection} is on. */
  public static boolean isAnomalyEnabled() {
    return detectAnomaly;
  }

  /** Counts a backward call for anomaly detection's messages; 0 when detection is off. */
  static long countBackward() {
    return detectAnomaly ? BACKWARD_CALLS.incrementAndGet() : 0;
  }

  /** Whether operations on tensors that require gradients record themselves on the tape. */
  public static boolean isGradEnabled() {
    return NO_GRAD_DEPTH.get()[0] == 0;
  }

  /**
   * Turns gradient recording off on this thread until the returned scope is closed (on this
   * thread: the mode is per thread, as PyTorch's). Scopes nest.
   */
  public static NoGrad noGrad() {
    NO_GRAD_DEPTH.get()[0]++;
    return new NoGrad(Thread.currentThread());
  }

  /** A {@code no_grad} block; close it (try-with-resources) to restore the previous mode. */
  public static final class NoGrad implements AutoCloseable {
    private final Thread owner;
    private volatile boolean closed;

    private NoGrad(Thread owner) {
      this.owner = owner;
    }

    /**
     * Ends the block on the thread that opened it; closing again does nothing.
     *
     * @throws IllegalStateException when called from another thread, which would leave the
     *     opening thread without gradients and change the closing thread's mode
     */
    @Override
    public void close() {
      if (closed) {
        return;
      }
      if (Thread.currentThread() != owner) {
        throw new IllegalStateException("Kiln.noGrad(): the block was opened on thread '" + owner.getName()
            + "' and must be closed there (grad mode is per thread), not on '" + Thread.currentThread().getName() + "'");
      }
      closed = true;
      NO_GRAD_DEPTH.get()[0]--;
    }
  }
}
