package dev.kiln.runtime;

import java.util.concurrent.atomic.AtomicLong;

/**
 * Kiln's pseudo-random generator: SplitMix64 (Steele, Lea and Flood), whose whole state is one
 * {@code long}. That state can be read with {@link #state()} and put back with {@link
 * #setState(long)}, so a training checkpoint can resume the exact random stream (shuffling,
 * dropout) an unbroken run would have drawn.
 *
 * <p>The draws are bit for bit those of {@code new java.util.SplittableRandom(seed)} (the same
 * algorithm, which Kiln used before), so seeded runs give the same numbers as they did then.
 *
 * <p>Thread-safe: each draw (or {@link #reserve}d block) is one atomic step of the state, so
 * threads sharing a generator (Kiln's global one) never get the same draws; which thread gets
 * which draws then depends on timing, as with PyTorch's default generator.
 */
public final class Generator {
  /** The odd increment added to the state at every draw (the golden ratio, as a 64-bit fraction). */
  private static final long GOLDEN_GAMMA = 0x9e3779b97f4a7c15L;

  private final AtomicLong state;

  /** A generator whose first draws are those of {@code new SplittableRandom(seed)}. */
  public Generator(long seed) {
    this.state = new AtomicLong(seed);
  }

  /** The current state: a generator given it by {@link #setState(long)} continues with the same draws. */
  public long state() {
    return state.get();
  }

  /** Puts back a state read by {@link #state()}; any {@code long} is a valid state. */
  public void setState(long state) {
    this.state.set(state);
  }

  /** A uniformly distributed {@code long}. */
  public long nextLong() {
    return mix64(nextSeed());
  }

  /** A uniformly distributed {@code int}. */
  public int nextInt() {
    return mix32(nextSeed());
  }

  /**
   * A uniformly distributed int in {@code [0, bound)}, without modulo bias (rejection sampling, as
   * {@code SplittableRandom.nextInt(bound)}).
   *
   * @throws IllegalArgumentException when {@code bound <= 0}
   */
  public int nextInt(int bound) {
    if (bound <= 0) {
      throw new IllegalArgumentException("Generator.nextInt: bound must be positive, got " + bound);
    }
    int r = nextInt();
    int m = bound - 1;
    if ((bound & m) == 0) { // a power of two: the low bits are uniform
      return r & m;
    }
    // Reject the top partial range of 31-bit values so every residue is equally likely.
    for (int u = r >>> 1; u + m - (r = u % bound) < 0; u = nextInt() >>> 1) {
      // draw again
    }
    return r;
  }

  /** A uniformly distributed double in {@code [0, 1)}, a multiple of 2^-53. */
  public double nextDouble() {
    return (nextLong() >>> 11) * 0x1.0p-53;
  }

  /**
   * Takes the next {@code draws} draws at once, for kernels that compute them in any order (on
   * several cores, or on the GPU): returns the state they start from, and leaves the generator
   * where {@code draws} calls would. Draw {@code i} of the block is then {@link #doubleAt}{@code
   * (start, i)}, exactly the value the {@code i}-th {@link #nextDouble()} would have returned, since
   * SplitMix64's state only counts (draw {@code i} mixes {@code start + (i + 1) * gamma}).
   *
   * @throws IllegalArgumentException when {@code draws} is negative
   */
  public long reserve(long draws) {
    if (draws < 0) {
      throw new IllegalArgumentException("Generator.reserve: the number of draws must be >= 0, got " + draws);
    }
    return state.getAndAdd(draws * GOLDEN_GAMMA);
  }

  /**
   * Fills {@code n} values of {@code d} from {@code off} with standard normal samples, the next draws of this generator:
   * {@link Tensor#randn}'s values (Box-Muller on pairs of draws, an odd count rounded up to a whole pair), which a compiled
   * forward's {@code Tensor.randnLike(x)} draws into its planned buffer in eager mode's order.
   */
  public void fillNormal(float[] d, int off, int n) {
    long start = reserve(n + (n & 1)); // the draws nextDouble() would give, taken as one block (one step of a shared generator)
    for (int i = 0; i < n; i += 2) {
      double u1 = 1.0 - doubleAt(start, i); // Box-Muller: two normals from two uniforms
      double u2 = doubleAt(start, i + 1);
      double r = Math.sqrt(-2.0 * Math.log(u1));
      d[off + i] = (float) (r * Math.cos(2 * Math.PI * u2));
      if (i + 1 < n) {
        d[off + i + 1] = (float) (r * Math.sin(2 * Math.PI * u2));
      }
    }
  }

  /**
   * Fills {@code n} values of {@code d} from {@code off} with uniform samples in {@code [low, high)}, the next {@code n} draws
   * of this generator: {@link Tensor#uniform}'s values ({@link Tensor#rand}'s for 0 and 1, a compiled {@code
   * Tensor.randLike(x)}'s).
   */
  public void fillUniform(float[] d, int off, int n, float low, float high) {
    long start = reserve(n);
    for (int i = 0; i < n; i++) {
      d[off + i] = (float) (low + (high - low) * doubleAt(start, i));
    }
  }

  /** Draw {@code index} (from 0) of a block {@link #reserve reserved} at state {@code start}, as {@link #nextDouble()}. */
  public static double doubleAt(long start, long index) {
    return bits(stateAt(start, index)) * 0x1.0p-53;
  }

  /**
   * The state draw {@code index} (from 0) of a block {@link #reserve reserved} at {@code start} mixes: a loop over
   * consecutive draws takes the first's and steps it with {@link #nextState}, an addition instead of the
   * multiplication {@link #doubleAt} makes for each index.
   */
  public static long stateAt(long start, long index) {
    return start + (index + 1) * GOLDEN_GAMMA;
  }

  /** The state of the draw after the one that mixes {@code state}. */
  public static long nextState(long state) {
    return state + GOLDEN_GAMMA;
  }

  /**
   * The 53 random bits of the draw that mixes {@code state}, in {@code [0, 2^53)}: {@link #doubleAt}{@code (start, i)}
   * is exactly {@code bits(stateAt(start, i)) * 2^-53}.
   */
  public static long bits(long state) {
    return mix64(state) >>> 11;
  }

  /**
   * The integer form of the test {@code draw < p}: for every draw, {@code bits * 2^-53 < p} exactly when {@code bits <
   * bitsBelow(p)}, since scaling by 2^53 is exact and a whole number is below a real one when it is below its ceiling.
   * Clamped to {@code [0, 2^53]}: 0 for p &lt;= 0 and NaN (no draw is below), 2^53 for p &gt;= 1 (every draw is).
   */
  public static long bitsBelow(double p) {
    if (!(p > 0)) {
      return 0;
    }
    return p >= 1 ? 1L << 53 : (long) Math.ceil(p * 0x1.0p53);
  }

  private long nextSeed() {
    return state.addAndGet(GOLDEN_GAMMA);
  }

  /** Stafford's variant 13 of MurmurHash3's 64-bit finaliser. */
  private static long mix64(long z) {
    z = (z ^ (z >>> 30)) * 0xbf58476d1ce4e5b9L;
    z = (z ^ (z >>> 27)) * 0x94d049bb133111ebL;
    return z ^ (z >>> 31);
  }

  /** Stafford's variant 4, keeping the high 32 bits. */
  private static int mix32(long z) {
    z = (z ^ (z >>> 33)) * 0x62a9d9ed799705f5L;
    return (int) (((z ^ (z >>> 28)) * 0xcb24d0a5c88c35b3L) >>> 32);
  }
}
