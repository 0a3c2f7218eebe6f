package dev.kiln.runtime.cpu;

/**
 * Float element-wise math over short blocks, and a fast float sum, written for what the HotSpot C2
 * compiler of Java 17 vectorises: counted loops with one index over arrays at offset 0, doing float
 * add, multiply, {@code Math.fma}, division, {@code abs}, {@code min} and {@code max}. The smooth
 * activations ({@link ActivationKernels}), the recurrent cells ({@link RecurrentKernels}) and layer
 * norm's sums ({@link NormKernels}) are built on it.
 *
 * <p>Measured on this JDK (17.0.15, AVX-512, one thread): a loop of those operations runs at
 * 0.07-0.45 ns a value; the same loop reading one array at {@code off + i} and writing another at
 * {@code i} is not vectorised (3.2 ns), nor is any loop holding a float/int bit cast, a conversion,
 * {@code Math.copySign}, an int {@code Math.max} or a conditional ({@code c ? a : b}): those run
 * scalar, 0.3-0.7 ns a value. Nor, it turned out, is a loop computing two alike expressions from
 * the same values (SiLU's gradient with both {@code sigmoid(x)} and {@code sigmoid(-x)}: 4.3 ns);
 * split into two loops, each is (0.9 ns together). Hence the shape: a kernel copies a block of its
 * input into per-thread scratch at offset 0, works there in vectorised passes, and copies the
 * result out. Selections are arithmetic: {@link CpuKernels#positive} gives an exact 0 or 1, and
 * {@code w * a + (1 - w) * b} with {@code w} 0 or 1 and both sides finite picks one side exactly.
 * The one scalar pass is the exp's power of two ({@link #powersOfTwo}), which needs the bits of a
 * float.
 *
 * <p>Cost is counted in vector operations: each add, multiply or FMA costs about 0.02 ns a value
 * (16 floats an instruction), a division 0.1, and each Java float {@code min} or {@code max} 0.06
 * (several instructions, for NaN and -0), so clamps and selections are spent with care. And a loop
 * body should stay small: C2 unrolls and vectorises a long one less well, or not at all in some
 * runs (GELU's density and tail polynomial as one loop: 0.86 ns a value, up to 5 in some runs; as
 * two, 0.48; softmax's exact differences with the exp's polynomial in one loop: 2.4 ns a value for
 * the kernel, in two 1.4).
 */
final class BlockMath {
  private BlockMath() {}

  /**
   * Values per block: one thread's seven float scratch arrays, 28 KB, stay in the L1 cache, and each
   * vectorised loop runs long enough to pay for its scalar pre- and post-loops (sigmoid, one thread:
   * 1.26 ns a value with blocks of 256, 0.96 with 1024, 1.20 with 2048).
   */
  static final int BLOCK = 1024;

  /** One thread's blocks: the inputs {@code x} (and {@code g}, a backward's incoming gradient), the result, and working arrays. */
  static final class Scratch {
    final float[] x;
    final float[] g;
    final float[] out;
    final float[] v;
    final float[] e;
    final float[] w;
    final float[] k;
    /** A block of rows scaled before a kernel reads them (softmax of scaled scores, {@code ActivationKernels.softmaxForwardScaled}). */
    final float[] scaled;
    /** Indices of rows (softmax's rows done again another way). */
    final int[] rows;

    Scratch() {
      this(new float[BLOCK], new float[BLOCK], new float[BLOCK], new float[BLOCK]);
    }

    /**
     * Blocks over arrays of the caller's ({@code BLOCK} floats each): {@code x} the input, {@code out} the result (may be
     * {@code x}: the smooth activations' blocks read each value before they write it), {@code e} and {@code k} the exp's
     * working arrays; {@code g}, {@code v}, {@code w} and {@code rows} are its own. The recurrent cells run the
     * activations' blocks in place over gates they keep in such arrays ({@code RecurrentKernels}).
     */
    Scratch(float[] x, float[] out, float[] e, float[] k) {
      this.x = x;
      this.out = out;
      this.e = e;
      this.k = k;
      g = new float[BLOCK];
      v = new float[BLOCK];
      w = new float[BLOCK];
      rows = new int[BLOCK];
      scaled = new float[BLOCK];
    }
  }

  private static final ThreadLocal<Scratch> SCRATCH = ThreadLocal.withInitial(Scratch::new);

  /** This thread's blocks, for a kernel that runs its own passes over them (softmax's rows). */
  static Scratch scratch() {
    return SCRATCH.get();
  }

  /** The work on one block of {@code m} values: from {@code s.x} (and {@code s.g}) into {@code s.out}. */
  @FunctionalInterface
  interface Block {
    void run(Scratch s, int m);
  }

  /**
   * {@code out[outOff + i] = f(x[xOff + i], g[gOff + i])} for {@code i} in {@code [0, n)}, block by
   * block ({@code g} may be null when {@code f} does not read it), shared among the cores by
   * {@link Parallel#forRange} with {@code weight} per value. {@code out} may be {@code x} or {@code
   * g} at the same offset.
   */
  static void forBlocks(float[] out, int outOff, float[] x, int xOff, float[] g, int gOff, int n, long weight, Block f) {
    Parallel.forRange(n, weight * n, (part, from, to) -> blocks(out, outOff + from, x, xOff + from, g, gOff + from, to - from, f));
  }

  /** {@link #forBlocks} on the calling thread alone (for a kernel that is already one part of a region). */
  static void blocks(float[] out, int outOff, float[] x, int xOff, float[] g, int gOff, int n, Block f) {
    Scratch s = SCRATCH.get();
    for (int i = 0; i < n; i += BLOCK) {
      int m = Math.min(BLOCK, n - i);
      System.arraycopy(x, xOff + i, s.x, 0, m);
      if (g != null) {
        System.arraycopy(g, gOff + i, s.g, 0, m);
      }
      f.run(s, m);
      System.arraycopy(s.out, 0, out, outOff + i, m);
    }
  }

  // ------------------------------------------------------------------ exp

  private static final float LOG2E = 1.44269504f;
  /** ln 2 as a float, and the rest of it: {@code n ln 2} is taken off in two fused steps (Cody and Waite). */
  private static final float LN2_HI = 0.693147182f;
  private static final float LN2_LO = -1.90465421e-9f;
  /**
   * 1.5 * 2^23 + 127: adding it rounds a float below 2^22 in magnitude to an integer {@code n}, and
   * the low bits of the sum are then {@code n + 127}, the biased exponent of {@code 2^n}.
   */
  private static final float ROUND = 12583039f;
  /**
   * {@code (e^r - 1 - r) / r^2} on {@code |r| <= ln(2) / 2}, degree 4: fitted for this class (weighted
   * least squares iterated to minimax, numpy, against mpmath at 40 digits); the fit's error in
   * {@code e^r} is 3.1e-9 relative, 3.8e-9 with the coefficients rounded to float.
   */
  private static final float E0 = 0.49999994f, E1 = 0.16666521f, E2 = 0.041668389f, E3 = 0.0083687101f, E4 = 0.0013814612f;

  /** Where the arguments are clamped: from -87.7 on the result is 0 already, and {@code exp(88.3)} is the largest with {@code n = 127}. */
  static final float EXP_MIN = -88f;
  static final float EXP_MAX = 88.3f;

  /*
   * exp(v) = 2^n e^r, n = round(v / ln 2), |r| <= ln(2) / 2, in two parts that a kernel keeps in two
   * arrays: k = 2^n and p = e^r - 1, the result fma(k, p, k) in one rounding. A kernel's first
   * vectorised pass computes expRounded(v) into k and expPart(v, k) into p beside its own work;
   * powersOfTwo turns k into 2^n (the one scalar pass: Java 17's C2 vectorises no bit cast, measured
   * 0.24 ns a value against 0.04 for a multiply), and the kernel's next vectorised pass reads fma(k,
   * p, k) where it needs exp(v). The argument must be in [EXP_MIN, EXP_MAX] (NaN allowed): each
   * Java float min or max is several instructions in a vector loop, so a kernel whose arguments have
   * a sign clamps one side only (0.06 ns a value less than both).
   */

  /**
   * {@code v / ln 2 + 1.5 * 2^23 + 127}, rounded: the float whose low bits are {@code n + 127}, for
   * {@link #powersOfTwo}; {@code v} in [{@link #EXP_MIN}, {@link #EXP_MAX}] or NaN.
   */
  static float expRounded(float v) {
    return Math.fma(v, LOG2E, ROUND);
  }

  /** {@code e^r - 1}, {@code r = v - n ln 2}, from {@code rounded = expRounded(v)}: a degree-6 polynomial in r. */
  static float expPart(float v, float rounded) {
    float n = rounded - ROUND;
    float r = Math.fma(n, -LN2_LO, Math.fma(n, -LN2_HI, v));
    return Math.fma(r * r, Math.fma(Math.fma(Math.fma(Math.fma(E4, r, E3), r, E2), r, E1), r, E0), r);
  }

  /**
   * {@code k[j] = 2^n} for {@code j < m}, from {@code k[j] = expRounded(v)}: {@code n + 127} in [0,
   * 254] shifted into the exponent, so that {@code fma(k[j], p[j], k[j])} is {@code exp(v)} with
   * {@code p[j] = expPart(v, k[j])}. {@code n = -127} (v below about -87.7) gives 0, and with {@code
   * n = -126} the product is subnormal (v from -87.7 to -87.3), rounded once by the fused
   * multiply-add. (A version taking unclamped arguments, their range tested here by a branch or an
   * int {@code max}, made this pass 2.5-3x slower than the clamp it saved.)
   */
  static void powersOfTwo(float[] k, int m) {
    for (int j = 0; j < m; j++) {
      k[j] = Float.intBitsToFloat(Float.floatToRawIntBits(k[j]) << 23);
    }
  }

  /**
   * {@code e[j] = exp(v[j])} for {@code j < m}, {@code k} overwritten: the passes above and one for the
   * product. Error 1.00 ulp against {@code Math.exp} in double over 5M arguments in [-87, 88]; 0.5 ns
   * a value on one thread, where {@code Math.exp} in double takes 14. Arguments are clamped to
   * [{@link #EXP_MIN}, {@link #EXP_MAX}]: the result is subnormal from about -87.3 down to -87.7 and
   * 0 below (-infinity included); above 88.3 it is {@code exp(88.3)}, about 2.2e38, not infinity
   * (the callers' arguments are at most 0, or tanh's, where it makes no difference); NaN stays NaN.
   */
  static void exp(float[] e, float[] v, float[] k, int m) {
    for (int j = 0; j < m; j++) {
      float a = Math.min(Math.max(v[j], EXP_MIN), EXP_MAX), rounded = expRounded(a); // NaN stays NaN
      k[j] = rounded;
      e[j] = expPart(a, rounded);
    }
    powersOfTwo(k, m);
    for (int j = 0; j < m; j++) {
      e[j] = Math.fma(k[j], e[j], k[j]);
    }
  }

  // ------------------------------------------------------------------ sums

  /**
   * {@code sum(a[0, n))}: eight float accumulators (eight independent additions in flight, where one
   * chain waits on each) over runs of 256 values, each run's total added in double, so the error
   * is at most about 32 float roundings of the magnitudes summed, whatever {@code n}. One thread,
   * rows of 256: 0.17 ns a value, against 0.66 for a chain of double additions (C2 vectorises no
   * float sum: it would have to reorder the additions); eight double accumulators took 0.31, and
   * pairwise halving in vectorised loops 0.33 (its loops too short to pay for themselves).
   */
  static double sum(float[] a, int n) {
    return sum(a, 0, n);
  }

  /** {@link #sum(float[], int)} of {@code a[from, from + n)}. */
  static double sum(float[] a, int from, int n) {
    double total = 0;
    for (int run = from; run < from + n; run += SUM_RUN) {
      int end = Math.min(from + n, run + SUM_RUN), i = run;
      float s0 = 0, s1 = 0, s2 = 0, s3 = 0, s4 = 0, s5 = 0, s6 = 0, s7 = 0;
      for (; i + 8 <= end; i += 8) {
        s0 += a[i];
        s1 += a[i + 1];
        s2 += a[i + 2];
        s3 += a[i + 3];
        s4 += a[i + 4];
        s5 += a[i + 5];
        s6 += a[i + 6];
        s7 += a[i + 7];
      }
      for (; i < end; i++) {
        total += a[i];
      }
      total += (((double) s0 + s1) + ((double) s2 + s3)) + (((double) s4 + s5) + ((double) s6 + s7));
    }
    return total;
  }

  private static final int SUM_RUN = 256;
}
