package dev.kiln.runtime;

import java.util.SplittableRandom;

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
  private static volatile SplittableRandom generator = new SplittableRandom();

  private Kiln() {}

  /** Seeds the global generator used by initialisation, {@code randn}, shuffling and dropout. */
  public static void manualSeed(long seed) {
    generator = new SplittableRandom(seed);
  }

  /**
   * The global generator. Every random draw in Kiln goes through it so that {@link #manualSeed}
   * makes a run reproducible; callers that need a stream of their own should {@code split()} it.
   */
  public static SplittableRandom generator() {
    return generator;
  }

  /** Whether operations on tensors that require gradients record themselves on the tape. */
  public static boolean isGradEnabled() {
    return NO_GRAD_DEPTH.get()[0] == 0;
  }

  /** Turns gradient recording off on this thread until the returned scope is closed. Scopes nest. */
  public static NoGrad noGrad() {
    NO_GRAD_DEPTH.get()[0]++;
    return new NoGrad();
  }

  /** A {@code no_grad} block; close it (try-with-resources) to restore the previous mode. */
  public static final class NoGrad implements AutoCloseable {
    private boolean closed;

    private NoGrad() {}

    @Override
    public void close() {
      if (!closed) {
        closed = true;
        NO_GRAD_DEPTH.get()[0]--;
      }
    }
  }
}
