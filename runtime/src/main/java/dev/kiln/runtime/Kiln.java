package dev.kiln.runtime;

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
