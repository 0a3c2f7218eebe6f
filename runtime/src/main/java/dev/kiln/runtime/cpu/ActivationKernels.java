package dev.kiln.runtime.cpu;

import dev.kiln.runtime.Generator;

/**
 * Element-wise kernels over raw row-major arrays: the activations (sigmoid, tanh, leaky ReLU,
 * softmax and log-softmax along a dimension), dropout's mask, and the per-element regression
 * losses (L1, squared error). As in {@link CpuKernels}, backward kernels take gradients out first,
 * then the incoming gradient, then saved forward values, and overwrite their outputs; an output may
 * be the same array as an input at the same offset.
 *
 * <p>Softmax kernels see the tensor as {@code [outer, size, inner]} with the reduced dimension in
 * the middle: {@code inner = 1} for the last dimension, element {@code (o, k, i)} at
 * {@code (o*size + k)*inner + i}.
 */
public final class ActivationKernels {
  private ActivationKernels() {}

  // ------------------------------------------------------------------ sigmoid, tanh, SiLU, GELU

  /*
   * The smooth activations in float, block by block on BlockMath: an exp (BlockMath.exp) and a
   * few vectorised passes, no branch on the data, selections by an exact 0-or-1 factor; 1-2 ns a
   * value on one thread, where the double kernels they replace (Math.exp, an erf with a continued
   * fraction) took 6-30. The errors stated are the largest over the million values of
   * SmoothActivationsTest (normal, uniform to ±30, magnitudes from 1e-41 to 1e37, special values)
   * against the function in double, beside PyTorch 1.13's float kernels on the same values (ulps
   * where the exact value is a normal float).
   */

  /** Work weight of a value of a smooth activation (an exp, a division, two dozen vector operations) for {@link Parallel#forRange}. */
  private static final long SMOOTH = 4;

  /**
   * {@code out = 1 / (1 + exp(-x))}: with {@code e = exp(-|x|)} in (0, 1], {@code 1 / (1 + e)} for
   * {@code x > 0} and {@code e / (1 + e)} below, the numerator {@code a + (1 - a) e} with {@code a}
   * 1 above 0, else 0, corrected to one rounding ({@link #sigmoidOf}). Error 1.44 ulp (PyTorch's:
   * 2.30); results below the smallest normal float (x below -87.3) are subnormal or 0, from -87.7
   * down 0; sigmoid(-inf) = 0, sigmoid(+inf) = 1, NaN stays NaN.
   */
  public static void sigmoidForward(float[] out, int outOff, float[] x, int xOff, int n) {
    BlockMath.forBlocks(out, outOff, x, xOff, null, 0, n, SMOOTH, ActivationKernels::sigmoidBlock);
  }

  /** {@link #sigmoidForward} on the calling thread (a recurrent cell's gates, already one part of a region). */
  static void sigmoid(float[] out, int outOff, float[] x, int xOff, int n) {
    BlockMath.blocks(out, outOff, x, xOff, null, 0, n, ActivationKernels::sigmoidBlock);
  }

  static void sigmoidBlock(BlockMath.Scratch s, int m) {
    expOfMinusAbs(s, m);
    for (int j = 0; j < m; j++) {
      s.out[j] = sigmoidOf(s.x[j], Math.fma(s.k[j], s.e[j], s.k[j]));
    }
  }

  /**
   * {@code sigmoid(v)} from {@code e = exp(-|v|)}: {@code n / (1 + e)} with the numerator {@code n =
   * a + (1 - a) e}, {@code a} 1 above 0, else 0. The quotient {@code q} is corrected by the
   * division's remainder {@code n - q d} (exact, by an FMA) and by the rounding error of {@code d =
   * 1 + e} (exact, {@code (1 - d) + e}), so that the result is the exact quotient rounded once (but
   * for e's own error).
   */
  private static float sigmoidOf(float v, float e) {
    return sigmoidWith(CpuKernels.positive(v), e);
  }

  /**
   * {@link #sigmoidOf(float, float)} with {@code above} given: 1 for {@code v > 0}, 0 below, and
   * anything finite in [0, 1] for {@code v = ±0} (where {@code e = 1}, and the numerator is 1
   * either way).
   */
  private static float sigmoidWith(float above, float e) {
    float numerator = Math.fma(1f - above, e, above);
    float d = 1f + e, inverse = 1f / d, q = numerator * inverse;
    return Math.fma(Math.fma(-q, d, numerator) - q * ((1f - d) + e), inverse, q);
  }

  /**
   * {@code exp(-|s.x[j]|)} in {@link BlockMath}'s two parts, {@code fma(s.k[j], s.e[j], s.k[j])}: the
   * sigmoid's exp, which cannot overflow.
   */
  private static void expOfMinusAbs(BlockMath.Scratch s, int m) {
    float[] x = s.x, k = s.k, p = s.e;
    for (int j = 0; j < m; j++) {
      float a = -Math.min(Math.abs(x[j]), -BlockMath.EXP_MIN), rounded = BlockMath.expRounded(a);
      k[j] = rounded;
      p[j] = BlockMath.expPart(a, rounded);
    }
    BlockMath.powersOfTwo(k, m);
  }

  /** {@code dx = dout * y * (1 - y)}, where {@code y} is the sigmoid's output. */
  public static void sigmoidBackward(float[] dx, int dxOff, float[] dout, int dOff, float[] y, int yOff, int n) {
    Parallel.forRange(n, n, (part, from, to) -> {
      if (dxOff == dOff && dOff == yOff) { // one index, which the JIT vectorises (three offsets: scalar, as CpuKernels.reluBackward says)
        for (int i = dxOff + from; i < dxOff + to; i++) {
          float s = y[i];
          dx[i] = dout[i] * s * (1f - s);
        }
        return;
      }
      for (int i = from; i < to; i++) {
        float s = y[yOff + i];
        dx[dxOff + i] = dout[dOff + i] * s * (1f - s);
      }
    });
  }

  /**
   * {@code out = tanh(x)} = {@code sign(x) tanh(|x|)}: below {@link #TANH_SERIES} an odd polynomial
   * {@code a + a^3 P(a^2)}, above {@code 1 - 2 / (exp(2a) + 1)} (where that form has no
   * cancellation: the subtracted part is below 0.24), both computed and one kept by an exact 0-or-1
   * factor. Error 0.94 ulp (PyTorch's: 1.00); tanh(±inf) = ±1, tanh(-0) = -0, NaN stays NaN.
   */
  public static void tanhForward(float[] out, int outOff, float[] x, int xOff, int n) {
    BlockMath.forBlocks(out, outOff, x, xOff, null, 0, n, SMOOTH, ActivationKernels::tanhBlock);
  }

  /** {@link #tanhForward} on the calling thread (a recurrent cell's, already one part of a region). */
  static void tanh(float[] out, int outOff, float[] x, int xOff, int n) {
    BlockMath.blocks(out, outOff, x, xOff, null, 0, n, ActivationKernels::tanhBlock);
  }

  /** Where tanh's polynomial gives way to its exp form (at 0.625: 1.30 ulp, 0.75: 1.05, 0.875: 1.02, 1: 0.94). */
  private static final float TANH_SERIES = 1f;
  /**
   * {@code (tanh(a) - a) / a^3} as a polynomial in {@code a^2} on [0, 1], degree 6: fitted for this
   * class as {@link BlockMath}'s exp was; its relative error in tanh is 5.9e-9.
   */
  private static final float T0 = -0.33333296f, T1 = 0.13332345f, T2 = -0.053879801f, T3 = 0.021486659f, T4 = -0.0079461066f,
      T5 = 0.0023013649f, T6 = -0.00035845206f;

  static void tanhBlock(BlockMath.Scratch s, int m) {
    for (int j = 0; j < m; j++) { // exp(2 |x|), from |x| = 44.15 exp(88.3)
      float a = Math.min(2f * Math.abs(s.x[j]), BlockMath.EXP_MAX), rounded = BlockMath.expRounded(a);
      s.k[j] = rounded;
      s.e[j] = BlockMath.expPart(a, rounded);
    }
    BlockMath.powersOfTwo(s.k, m);
    for (int j = 0; j < m; j++) {
      float x = s.x[j], a = Math.abs(x);
      float c = Math.min(a, TANH_SERIES), z = c * c; // the polynomial stays finite past its range
      float series = Math.fma(c * z, Math.fma(Math.fma(Math.fma(Math.fma(Math.fma(Math.fma(T6, z, T5), z, T4), z, T3), z, T2), z, T1), z, T0), c);
      float fromExp = 1f - 2f / (Math.fma(s.k[j], s.e[j], s.k[j]) + 1f);
      float w = CpuKernels.positive(TANH_SERIES - a); // 1 below the switch, 0 above, NaN for NaN
      s.out[j] = sign(x) * (w * series + (1f - w) * fromExp);
    }
  }

  /** 1 or -1 as the sign of {@code v}, and {@code v} itself for 0, -0 and NaN. */
  private static float sign(float v) {
    return Math.min(Math.max(v * 0x1p100f * 0x1p49f, -1f), 1f);
  }

  /** {@code dx = dout * (1 - y^2)}, where {@code y} is the tanh's output. */
  public static void tanhBackward(float[] dx, int dxOff, float[] dout, int dOff, float[] y, int yOff, int n) {
    Parallel.forRange(n, n, (part, from, to) -> {
      if (dxOff == dOff && dOff == yOff) { // one index, as sigmoidBackward
        for (int i = dxOff + from; i < dxOff + to; i++) {
          float t = y[i];
          dx[i] = dout[i] * (1f - t * t);
        }
        return;
      }
      for (int i = from; i < to; i++) {
        float t = y[yOff + i];
        dx[dxOff + i] = dout[dOff + i] * (1f - t * t);
      }
    });
  }

  /**
   * {@code out = x sigmoid(x)}, SiLU ("swish"): {@code |x| n / (1 + e)} as {@link #sigmoidOf}
   * computes {@code n / (1 + e)}, the rounding error of {@code |x| n} folded in as well, then the
   * sign. Error 1.60 ulp for x above -87.3 (PyTorch's: 2.18), below which the sigmoid is subnormal or
   * 0; silu(-inf) = -0 (PyTorch: NaN), silu(+inf) = +inf.
   */
  public static void siluForward(float[] out, int outOff, float[] x, int xOff, int n) {
    BlockMath.forBlocks(out, outOff, x, xOff, null, 0, n, SMOOTH, (s, m) -> {
      expOfMinusAbs(s, m);
      for (int j = 0; j < m; j++) {
        // |x| n / (1 + e) corrected as in sigmoidOf, with the product's rounding error too, then the sign; the
        // numerator's factor from the sign (1/2 at ±0, where e = 1 and the numerator is 1 either way): two float min
        // and max less than CpuKernels.positive beside sign, 0.1 ns a value
        float v = s.x[j], e = Math.fma(s.k[j], s.e[j], s.k[j]), sign = sign(v), above = Math.fma(0.5f, sign, 0.5f);
        float numerator = Math.fma(1f - above, e, above);
        float a = Math.min(Math.abs(v), Float.MAX_VALUE), p = a * numerator, pError = Math.fma(a, numerator, -p); // inf * 0 would be NaN
        float d = 1f + e, inverse = 1f / d, q = p * inverse;
        float infinite = 1f + (Math.max(v, Float.MAX_VALUE) - Float.MAX_VALUE); // +inf for +inf, else 1
        s.out[j] = sign * infinite * Math.fma(Math.fma(-q, d, p) + pError - q * ((1f - d) + e), inverse, q);
      }
    });
  }

  /**
   * {@code dx = dout * s (1 + x (1 - s))}, {@code s = sigmoid(x)}, from the input x; {@code 1 - s}
   * is {@code sigmoid(-x)}, computed as such (no cancellation for large x). Absolute error 1.5e-7
   * (PyTorch's: 9.8e-7), relative 2.1e-7 below x = -3 (PyTorch's: 2.3e-7); 1 at +inf, 0 at -inf
   * (PyTorch: NaN at both).
   */
  public static void siluBackward(float[] dx, int dxOff, float[] dout, int dOff, float[] x, int xOff, int n) {
    BlockMath.forBlocks(dx, dxOff, x, xOff, dout, dOff, n, SMOOTH, (s, m) -> {
      expOfMinusAbs(s, m);
      for (int j = 0; j < m; j++) { // sigmoid(-x) first: C2 vectorises neither loop with both sigmoids in it
        float e = Math.fma(s.k[j], s.e[j], s.k[j]), above = CpuKernels.positive(s.x[j]);
        s.e[j] = e;
        s.v[j] = above; // kept for sigmoid(x): its own positive() would be two more float min and max
        s.w[j] = sigmoidWith(1f - above, e); // 1 - above is 1 below 0, 0 above (and 1 at ±0, where either does)
      }
      for (int j = 0; j < m; j++) {
        float v = s.x[j], bounded = Math.min(Math.max(v, -Float.MAX_VALUE), Float.MAX_VALUE); // inf * 0 would be NaN
        s.out[j] = s.g[j] * (sigmoidWith(s.v[j], s.e[j]) * Math.fma(bounded, s.w[j], 1f));
      }
    });
  }

  /**
   * {@code out = x Phi(x)}, GELU as PyTorch's default, {@code Phi} the standard normal CDF, from
   * {@link #normal}: {@code x (1 - tail)} above 0, and {@code -(|x| t P) exp(-x^2 / 2)} below (in that
   * order, so that the result is accurate down to the smallest normal floats). Error 5.7 ulp (4.3e-7
   * relative) for x above -13, below which the result is subnormal or 0; PyTorch's: 9.7 ulp near 0,
   * and 0 instead of the value below -5.4 or so (relative error 1). gelu(-inf) = -0 (PyTorch: NaN),
   * gelu(+inf) = +inf.
   */
  public static void geluForward(float[] out, int outOff, float[] x, int xOff, int n) {
    BlockMath.forBlocks(out, outOff, x, xOff, null, 0, n, 2 * SMOOTH, (s, m) -> {
      normal(s, m);
      gelu(s, m);
    });
  }

  /**
   * {@link #geluForward}, and unless {@code slope} is null the gradient's factor {@code Phi(x) + x phi(x)} into {@code
   * slope[slopeOff..]} from the same normal distribution: a compiled model's forward with grad on keeps it, and its
   * backward is then one multiplication ({@link #applyMask}), the bits of {@link #geluBackward}'s, instead of the
   * distribution computed again (0.5 ms over [1024, 256] on one thread, char-gpt's two MLPs).
   */
  public static void geluForward(float[] out, int outOff, float[] x, int xOff, int n, float[] slope, int slopeOff) {
    if (slope == null) {
      geluForward(out, outOff, x, xOff, n);
      return;
    }
    withSlope(out, outOff, x, xOff, n, slope, slopeOff, 2L * SMOOTH, (s, m) -> {
      normal(s, m);
      gelu(s, m);
    }, (s, m) -> geluSlope(s, m, s.out, null));
  }

  /**
   * A GELU's values ({@code values}: from {@code s.x} into {@code s.out}) and its slope ({@code slopes}, after it, from
   * what {@code values} left in the scratch, into {@code s.out}) block by block, into {@code out} and {@code slope}.
   */
  private static void withSlope(float[] out, int outOff, float[] x, int xOff, int n, float[] slope, int slopeOff, long weight,
      BlockMath.Block values, BlockMath.Block slopes) {
    Parallel.forRange(n, weight * n, (part, from, to) -> {
      BlockMath.Scratch s = BlockMath.scratch();
      for (int i = from; i < to; i += BlockMath.BLOCK) {
        int m = Math.min(BlockMath.BLOCK, to - i);
        System.arraycopy(x, xOff + i, s.x, 0, m);
        values.run(s, m);
        System.arraycopy(s.out, 0, out, outOff + i, m);
        slopes.run(s, m);
        System.arraycopy(s.out, 0, slope, slopeOff + i, m);
      }
    });
  }

  // ------------------------------------------------------------------ GELU, tanh approximation

  /*
   * PyTorch's GELU(approximate='tanh') (GPT-2's "new GELU"), in PyTorch 1.13's float arithmetic
   * (aten/src/ATen/native/cpu/Activation.cpp, GeluKernelImpl and GeluBackwardKernelImpl, vectorised
   * path): the same products and sums in the same order, no FMA, with this class's tanh (0.94 ulp)
   * where PyTorch has Sleef's (1.0 ulp). The differences are the tanh's, which 1 + tanh magnifies
   * below 0 (cancellation, PyTorch's as well). Against PyTorch over a million values (GeluTanhTest):
   * 2.4e-7 absolute in the values (98.6% the same bits, 2 ulp for x >= 0), 1.1e-6 in the slope (82%,
   * 9 ulp for x >= 0; at x near -5 and 5, where tanh is within an ulp or two of -1 or 1). Against the
   * formula in double: 4.3e-7 in the values (PyTorch's: 4.3e-7), 5.6e-7 in the slope (PyTorch's: 1.0e-6).
   * Where PyTorch overflows (x^2 past the float range, |x| above 1.8e19, and -inf) it gives NaN;
   * this computes the tanh's argument and the slope from x clamped to +-GELU_TANH_BOUND, where tanh
   * is ±1 exactly and every other value is PyTorch's, so that the value is -0 below and x above,
   * the slope 0 below and 1 above (NaN stays NaN).
   */

  /** sqrt(2 / pi) and the cube's coefficient, as PyTorch's float {@code kBeta} and {@code kKappa}. */
  private static final float K_BETA = (float) (Math.sqrt(2) * (2 / Math.sqrt(Math.PI)) * 0.5), K_KAPPA = 0.044715f;
  /** Where x is clamped for the tanh's argument and the slope: past it tanh is ±1 in float (from |x| 4.7 on). */
  private static final float GELU_TANH_BOUND = 1e4f;

  /** {@code out = 0.5 x (1 + tanh(sqrt(2 / pi) (x + 0.044715 x^3)))}, PyTorch's {@code gelu(x, approximate='tanh')}. */
  public static void geluTanhForward(float[] out, int outOff, float[] x, int xOff, int n) {
    BlockMath.forBlocks(out, outOff, x, xOff, null, 0, n, 2 * SMOOTH, ActivationKernels::geluTanh);
  }

  /**
   * {@link #geluTanhForward}, and unless {@code slope} is null its derivative into {@code slope[slopeOff..]}, from the
   * same tanh, as {@link #geluForward(float[], int, float[], int, int, float[], int)} does for the exact form.
   */
  public static void geluTanhForward(float[] out, int outOff, float[] x, int xOff, int n, float[] slope, int slopeOff) {
    if (slope == null) {
      geluTanhForward(out, outOff, x, xOff, n);
      return;
    }
    withSlope(out, outOff, x, xOff, n, slope, slopeOff, 2L * SMOOTH, ActivationKernels::geluTanh, (s, m) -> geluTanhSlope(s, m, s.out, null));
  }

  /** {@code dx = dout * d/dx gelu_tanh(x)}, from the input x: PyTorch's formula, as {@link #geluTanhSlope} says. */
  public static void geluTanhBackward(float[] dx, int dxOff, float[] dout, int dOff, float[] x, int xOff, int n) {
    BlockMath.forBlocks(dx, dxOff, x, xOff, dout, dOff, n, 2 * SMOOTH, (s, m) -> {
      geluTanhInner(s, m);
      geluTanhSlope(s, m, s.out, s.g);
    });
  }

  /** The tanh form's values over a block into {@code s.out}: {@code (0.5 x) (1 + t)}, {@code t} from {@link #geluTanhInner}. */
  private static void geluTanh(BlockMath.Scratch s, int m) {
    geluTanhInner(s, m);
    float[] x = s.x, t = s.w, out = s.out;
    for (int j = 0; j < m; j++) { // -inf bounded: -inf * 0 would be NaN
      out[j] = 0.5f * Math.max(x[j], -Float.MAX_VALUE) * (1f + t[j]);
    }
  }

  /**
   * {@code t = tanh(kBeta (x + kKappa x^3))} over a block into {@code s.w}, x clamped to {@link #GELU_TANH_BOUND}; {@code
   * s.x} is x again afterwards ({@code s.v}, {@code s.k}, {@code s.e} and {@code s.out} overwritten).
   */
  private static void geluTanhInner(BlockMath.Scratch s, int m) {
    float[] x = s.x, saved = s.v;
    for (int j = 0; j < m; j++) {
      float v = x[j], c = clamp(v), cube = c * c * c;
      saved[j] = v;
      x[j] = K_BETA * (c + K_KAPPA * cube);
    }
    tanhBlock(s, m);
    System.arraycopy(s.out, 0, s.w, 0, m);
    System.arraycopy(saved, 0, x, 0, m);
  }

  private static float clamp(float v) {
    return Math.min(Math.max(v, -GELU_TANH_BOUND), GELU_TANH_BOUND);
  }

  /**
   * The tanh form's derivative over a block into {@code slope} (times {@code dout} unless that is null), from {@link
   * #geluTanhInner}'s {@code t}: PyTorch's {@code 0.5 (1 + t) + ((0.5 x) (1 - t t)) (kBeta (1 + 3 kKappa x^2))}.
   */
  private static void geluTanhSlope(BlockMath.Scratch s, int m, float[] slope, float[] dout) {
    float[] x = s.x, t = s.w;
    for (int j = 0; j < m; j++) {
      float c = clamp(x[j]), tj = t[j];
      float d = 0.5f * (1f + tj) + 0.5f * c * (1f - tj * tj) * (K_BETA * (1f + KAPPA3 * (c * c)));
      slope[j] = dout == null ? d : dout[j] * d;
    }
  }

  private static final float KAPPA3 = 3f * K_KAPPA;

  /**
   * GELU's values over a block into {@code s.out}, from {@link #normal}'s: {@code max(x, -0) - (|x| t P) exp(-x^2 / 2)},
   * which is {@code x (1 - tail)} above 0 and {@code -|x| tail} below, with no selection ({@code max(x, -0)} is -0
   * below 0, so that the sign of a 0 result is x's).
   */
  private static void gelu(BlockMath.Scratch s, int m) {
    float[] x = s.x, a = s.v, density = s.e, ratio = s.w, out = s.out;
    for (int j = 0; j < m; j++) { // |x| bounded: inf * 0 would be NaN
      out[j] = Math.max(x[j], -0f) - (a[j] * ratio[j]) * density[j];
    }
  }

  /**
   * {@code dx = dout * (Phi(x) + x phi(x))}, from the input x, {@code phi} the normal density
   * {@code exp(-x^2 / 2) / sqrt(2 pi)}: from {@link #normal}, {@code 1 + exp(-x^2 / 2) (x / sqrt(2
   * pi) - t P)} above 0, {@code exp(-x^2 / 2) (t P + x / sqrt(2 pi))} below. Absolute error 1.8e-7
   * (PyTorch's: 2.8e-7), relative 2.6e-7 from -13 to -2 (PyTorch's: 1, its 0s); 1 at +inf, 0 at
   * -inf (PyTorch: NaN).
   */
  public static void geluBackward(float[] dx, int dxOff, float[] dout, int dOff, float[] x, int xOff, int n) {
    BlockMath.forBlocks(dx, dxOff, x, xOff, dout, dOff, n, 2 * SMOOTH, (s, m) -> {
      normal(s, m);
      geluSlope(s, m, s.out, s.g);
    });
  }

  /**
   * GELU's derivative {@code Phi(x) + x phi(x)} over a block into {@code slope} (times {@code dout} unless that is
   * null), from {@link #normal}'s values: {@code
   * above + sign (exp(-x^2 / 2) (|x| / sqrt(2 pi) - t P))}, {@code above} 1 for {@code x > 0}, else 0, and {@code sign
   * = 2 above - 1}.
   */
  private static void geluSlope(BlockMath.Scratch s, int m, float[] slope, float[] dout) {
    float[] x = s.x, a = s.v, density = s.e, ratio = s.w;
    if (dout == null) {
      for (int j = 0; j < m; j++) {
        slope[j] = geluSlopeOf(x[j], a[j], density[j], ratio[j]);
      }
      return;
    }
    for (int j = 0; j < m; j++) { // the product in the same pass: the bits of slope * dout
      slope[j] = dout[j] * geluSlopeOf(x[j], a[j], density[j], ratio[j]);
    }
  }

  private static float geluSlopeOf(float x, float a, float density, float ratio) {
    float above = CpuKernels.positive(x);
    return Math.fma(Math.fma(2f, above, -1f), density * Math.fma(a, INV_SQRT_2PI, -ratio), above);
  }

  private static final float INV_SQRT_2PI = 0.398942280f;
  /**
   * Where |x| is clamped for the normal distribution: from there on {@code -x^2 / 2} is below -87.68,
   * where {@link BlockMath}'s exp gives 0 ({@code n = -127}; the exact density is subnormal), and no
   * further clamp of the exp's argument is needed.
   */
  private static final float NORMAL_BOUND = 13.25f;
  /** {@code t = 1 / (1 + Q_SCALE |x|)} maps [0, inf) onto (0, 1]. */
  private static final float Q_SCALE = 0.3f;
  /**
   * {@code Phi(-|x|) / (t exp(-x^2 / 2))} as a polynomial in {@code u = 2t - 1}, degree 11: fitted
   * for this class (weighted least squares iterated to minimax, numpy, against PyTorch's double
   * {@code special.erfcx}); relative error 3.3e-9, 2.1e-8 with the coefficients rounded to float.
   */
  private static final float Q0 = 0.22197062f, Q1 = 0.16457950f, Q2 = 0.086549647f, Q3 = 0.027760144f,
      Q4 = 0.0018169284f, Q5 = -0.0024223200f, Q6 = -0.00057456113f, Q7 = 0.00027878067f, Q8 = 8.7817214e-05f,
      Q9 = -4.2288000e-05f, Q10 = -9.1072216e-06f, Q11 = 4.8474226e-06f;

  /**
   * The normal distribution at {@code s.x} ({@code k} overwritten): {@code s.e = exp(-x^2
   * / 2)} and {@code s.w = t P(2t - 1)}, {@code t = 1 / (1 + 0.3 |x|)}, such that the lower tail
   * {@code Phi(-|x|) = s.e * s.w}. This is the shape of Abramowitz and Stegun's 7.1.26 (PyTorch's
   * float erf) with a polynomial of degree 11 fitted for relative accuracy where theirs has absolute
   * accuracy, so that the tail is accurate as it vanishes (the product's error, about 3e-7, is
   * float rounding in evaluating it). {@code x^2} is split exactly into a float and its rounding
   * error by an FMA, the error folded in after the exp. {@code |x|} is clamped to 13.25 into {@code
   * s.v} (NaN stays NaN), where the density is already 0; the callers take the sign from {@code s.x}. Three vectorised passes (the exp's
   * polynomial, the density's correction, the tail's polynomial) around the exp's scalar one: as one
   * loop, the last two ran 0.86 ns a value and up to 5 in some runs (C2 unrolls and vectorises a
   * loop of that size less reliably), split 0.48.
   */
  private static void normal(BlockMath.Scratch s, int m) {
    float[] x = s.x, bounded = s.v, k = s.k, e = s.e, w = s.w;
    for (int j = 0; j < m; j++) {
      float b = Math.min(Math.abs(x[j]), NORMAL_BOUND), a = -0.5f * (b * b), rounded = BlockMath.expRounded(a);
      bounded[j] = b;
      k[j] = rounded;
      e[j] = BlockMath.expPart(a, rounded);
    }
    BlockMath.powersOfTwo(k, m);
    for (int j = 0; j < m; j++) { // apart from the polynomial's loop: C2 vectorises a loop of this size less reliably
      float b = bounded[j], square = b * b, error = Math.fma(b, b, -square); // b^2 = square + error exactly
      float exp = Math.fma(k[j], e[j], k[j]);
      e[j] = Math.fma(exp, -0.5f * error, exp); // exp(-square / 2) (1 - error / 2)
    }
    for (int j = 0; j < m; j++) {
      float t = 1f / Math.fma(Q_SCALE, bounded[j], 1f), u = Math.fma(2f, t, -1f);
      w[j] = t * Math.fma(Math.fma(Math.fma(Math.fma(Math.fma(Math.fma(Math.fma(Math.fma(Math.fma(Math.fma(Math.fma(
          Q11, u, Q10), u, Q9), u, Q8), u, Q7), u, Q6), u, Q5), u, Q4), u, Q3), u, Q2), u, Q1), u, Q0);
    }
  }

  /**
   * {@code out = x > 0 ? x : slope * x}, as {@code x * factor} with the factor 1 or {@code slope}
   * from {@link CpuKernels#positive}: no branch on the sign (random signs mispredict half the
   * time: 4.8 ns a value, against 0.2 without), the same values as the comparison for every input,
   * -0 and NaN included.
   */
  public static void leakyReluForward(float[] out, int outOff, float[] x, int xOff, int n, float slope) {
    Parallel.forRange(n, n, (part, from, to) -> {
      if (outOff == xOff) { // one index for both arrays, which the JIT vectorises
        for (int i = outOff + from; i < outOff + to; i++) {
          out[i] = x[i] * leakyFactor(x[i], slope);
        }
        return;
      }
      for (int i = from; i < to; i++) {
        float v = x[xOff + i];
        out[outOff + i] = v * leakyFactor(v, slope);
      }
    });
  }

  /**
   * {@code dx = dout * (x > 0 ? 1 : slope)}, from the input {@code x} (the slope may be negative).
   * Branch-free as the forward; a NaN {@code x} gives NaN (the comparison would give {@code dout *
   * slope}): the run has diverged either way.
   */
  public static void leakyReluBackward(float[] dx, int dxOff, float[] dout, int dOff, float[] x, int xOff, int n, float slope) {
    Parallel.forRange(n, n, (part, from, to) -> {
      if (dxOff == dOff && dOff == xOff) {
        for (int i = dxOff + from; i < dxOff + to; i++) {
          dx[i] = dout[i] * leakyFactor(x[i], slope);
        }
        return;
      }
      for (int i = from; i < to; i++) {
        dx[dxOff + i] = dout[dOff + i] * leakyFactor(x[xOff + i], slope);
      }
    });
  }

  /** 1 for {@code v > 0}, else {@code slope} (NaN for NaN), exactly: {@code f + (1 - f) * slope} with f 1 or 0. */
  private static float leakyFactor(float v, float slope) {
    float f = CpuKernels.positive(v);
    return f + (1f - f) * slope;
  }

  // ------------------------------------------------------------------ softmax and log-softmax

  /** Work weight of an element of softmax (a double {@code Math.exp}) for {@link Parallel#forRange}. */
  private static final long TRANSCENDENTAL = 16;

  /**
   * {@code out = exp(x - max) / sum(exp(x - max))} along the middle dimension of {@code [outer, size,
   * inner]}, as PyTorch computes it: one exp per element, then one multiplication by the sum's
   * inverse. Along the last dimension ({@code inner = 1}, attention's scores and classifiers' logits)
   * each row goes through {@link BlockMath}'s blocks: the float {@link BlockMath#exp} (1 ulp) of the
   * difference made exact ({@link #shiftedExp}; a short row shifted by its first value rather than
   * its maximum where that is safe, {@link #rowsShiftedByFirst}), the sum, the products by the float
   * inverse: within 4 ulp of the exact softmax on SoftmaxKernelTest's rows of 28 to 3000 values,
   * 3.9 and 5.4 over 2M values of normal, uniform and wide-ranging magnitudes in rows of 7 and 64
   * (PyTorch 1.13's vectorised kernel, which rounds the difference too: 62 and 36). Along another
   * dimension, {@code Math.exp} in double, within 1.5 ulp. A row of only -infinity gives NaN, as
   * PyTorch's.
   */
  public static void softmaxForward(float[] out, int outOff, float[] x, int xOff, int outer, int size, int inner) {
    if (inner == 1) {
      alongLastDim(outer, size, (rows, from, scratch) -> softmaxRows(out, outOff + from, x, xOff + from, rows, size, scratch));
      return;
    }
    alongRows(outer, size, inner, TRANSCENDENTAL, first -> {
      float max = Float.NEGATIVE_INFINITY;
      for (int k = 0; k < size; k++) {
        max = Math.max(max, x[xOff + first + k * inner]);
      }
      double sum = 0;
      for (int k = 0; k < size; k++) {
        int at = first + k * inner;
        float e = (float) Math.exp((double) x[xOff + at] - max);
        out[outOff + at] = e;
        sum += e;
      }
      double inverse = 1 / sum;
      for (int k = 0; k < size; k++) {
        int at = outOff + first + k * inner;
        out[at] = (float) (out[at] * inverse);
      }
    });
  }

  /**
   * {@link #softmaxForward} along the last dimension of {@code outer} rows of {@code size} values of {@code x * factor}:
   * each block of rows is scaled into scratch ({@code factor * x}, {@code CpuKernels.scale}'s product) and goes through
   * the same row kernel, so that the values are those of the scale's output softmaxed, bit for bit, and the scaled
   * values are never written to memory (attention's {@code q @ k^T / sqrt(d)}, eager mode's {@code Deferred.Scale}).
   * Rows of at most {@link #scaledRowsMax} values.
   */
  public static void softmaxForwardScaled(float[] out, int outOff, float[] x, int xOff, float factor, int outer, int size) {
    if (size > scaledRowsMax()) {
      throw new IllegalArgumentException("softmaxForwardScaled: rows of " + size + " values, at most " + scaledRowsMax());
    }
    alongLastDim(outer, size, (rows, from, s) -> {
      float[] scaled = s.scaled;
      int m = rows * size;
      for (int j = 0; j < m; j++) {
        scaled[j] = factor * x[xOff + from + j];
      }
      softmaxRows(out, outOff + from, scaled, 0, rows, size, s);
    });
  }

  /** The longest rows {@link #softmaxForwardScaled} takes: one block. */
  public static int scaledRowsMax() {
    return BlockMath.BLOCK;
  }

  /** Work on whole rows of a last-dimension kernel: {@code rows} rows of {@code size} values, the first at {@code from}. */
  private interface Rows {
    void run(int rows, int from, BlockMath.Scratch scratch);
  }

  /**
   * Runs {@code f} over the {@code outer} contiguous rows of {@code size} values, split over the
   * cores: as many whole rows at a time as fill a {@link BlockMath#BLOCK} (attention's rows of 28 or
   * 64 values are too short for the vectorised loops to pay for their set-up one row at a time),
   * or one row at a time, block by block, for longer rows.
   */
  private static void alongLastDim(int outer, int size, Rows f) {
    int perBlock = Math.max(1, BlockMath.BLOCK / Math.max(size, 1));
    int groups = (outer + perBlock - 1) / perBlock;
    Parallel.forRange(groups, 4L * outer * size, (part, from, to) -> {
      BlockMath.Scratch s = BlockMath.scratch();
      for (int g = from; g < to; g++) {
        int first = g * perBlock, rows = Math.min(perBlock, outer - first);
        f.run(rows, first * size, s);
      }
    });
  }

  /**
   * Softmax of {@code rows} contiguous rows of {@code size} values at {@code x[xo]} into {@code
   * out[o]}. Rows that fit a block together run as one block ({@link #rowsShiftedByFirst}). A longer row (one at a time) goes block by block, then one scaling
   * pass.
   */
  private static void softmaxRows(float[] out, int o, float[] x, int xo, int rows, int size, BlockMath.Scratch s) {
    if (rows * size > BlockMath.BLOCK) { // one long row
      float inverse = (float) (1 / longRowExps(s, x, xo, size, rowMax(x, xo, size), out, o));
      for (int j = o; j < o + size; j++) {
        out[j] *= inverse;
      }
      return;
    }
    rowsShiftedByFirst(out, o, x, xo, rows, size, s);
  }

  /**
   * Cross-entropy's log-softmax: {@code probs} the softmax of {@code rows} contiguous rows of {@code size} logits from
   * {@code x[xOff]}, {@code max[r]} row r's maximum and {@code logSum[r]} its {@code log(sum(exp(x - max)))} in double
   * ({@link ShiftedSum}), so that {@code log_softmax(x)[j] = (x[j] - max) - logSum}: shifted by the maximum (not the first value, as {@link #softmaxForward}'s short rows are), so that the
   * target's term is exactly 1 where it is the maximum and a small loss keeps its relative accuracy. The exps are {@link
   * BlockMath#exp}'s (1 ulp) of the differences made exact, summed by {@link BlockMath#sum}, rows grouped into blocks
   * as the softmax's and shared among the cores; each row's values do not depend on the rows beside it or the split.
   */
  static void softmaxWithLogSum(float[] probs, int pOff, float[] x, int xOff, int rows, int size, double[] logSum, float[] max) {
    alongLastDim(rows, size, (count, from, s) -> {
      int row = from / size;
      if (count * size > BlockMath.BLOCK) { // one long row, block by block
        float rowMax = rowMax(x, xOff + from, size);
        ShiftedSum sum = new ShiftedSum();
        for (int c = 0; c < size; c += BlockMath.BLOCK) {
          int m = Math.min(BlockMath.BLOCK, size - c);
          java.util.Arrays.fill(s.g, 0, m, rowMax);
          shiftedExp(s, x, xOff + from + c, m, extreme(rowMax), false);
          ShiftedSum.split(s, m);
          sum.add(s, 0, m);
          System.arraycopy(s.e, 0, probs, pOff + from + c, m);
        }
        float inverse = (float) (1 / sum.sum());
        for (int j = pOff + from; j < pOff + from + size; j++) {
          probs[j] *= inverse;
        }
        logSum[row] = sum.log();
        max[row] = rowMax;
        return;
      }
      rowsShiftedByMax(probs, pOff + from, x, xOff + from, count, size, s, logSum, max, row);
    });
  }

  /**
   * A row's sum of {@code exp(x - max)} for its log: the terms of 1 (the maximum's, exactly 1) summed apart from the
   * others, so that {@code log1p} of the others keeps a small loss's relative accuracy (a row whose other terms sum to
   * 1e-11: within 1e-6 relative, where the log of the whole sum would lose it, in float all of it). A NaN term goes
   * with the others.
   */
  private static final class ShiftedSum {
    private double ones;
    private double below;

    /** {@code s.e}'s terms of 1 into {@code s.k}, the others into {@code s.w} (0 in the other array), vectorised. */
    static void split(BlockMath.Scratch s, int m) {
      float[] e = s.e, below = s.w, ones = s.k;
      for (int j = 0; j < m; j++) {
        float v = e[j], w = v * CpuKernels.positive(1f - v); // v below 1 (or NaN) as it is, 1 as 0
        below[j] = w;
        ones[j] = v - w;
      }
    }

    /** Adds a row's terms from {@code s.k} and {@code s.w} as {@link #split} left them. */
    ShiftedSum add(BlockMath.Scratch s, int from, int n) {
      ones += BlockMath.sum(s.k, from, n);
      below += BlockMath.sum(s.w, from, n);
      return this;
    }

    double sum() {
      return ones + below;
    }

    double log() {
      return Math.log1p((ones - 1) + below);
    }
  }

  /**
   * Where a row's sum of {@code exp(x - first)} may go: up to 2^64 the largest term, its sum and
   * the inverse stay far inside float's range, and a row whose maximum is more than 44 above its
   * first value (or has an infinite or NaN value) is found by its sum.
   */
  private static final double FIRST_SHIFT_SUM_LIMIT = 0x1p64;
  /**
   * How far above a row's first value its values are capped in {@link #rowsShiftedByFirst} (a capped
   * row's sum, from e^88, is above the limit and the row is done again): the differences stay in
   * the exp's range, and their rounding errors small.
   */
  private static final float FIRST_SHIFT_CAP = 88f;
  /** Rows whose first value is this large or larger in magnitude are shifted by their maximum: {@code first + 88} keeps 88 in it. */
  private static final float FIRST_SHIFT_BOUND = 0x1p20f;

  /**
   * The softmax of a block of whole rows, each shifted by its first value instead of its maximum:
   * softmax is the same for any shift (the exps are divided by their sum), and finding a short row's
   * maximum took a third of the kernel's time (a chain of Java's float {@code max}: 0.88 ns a value
   * on one thread, of 2.4). The values are capped at {@link #FIRST_SHIFT_CAP} above the first, the
   * differences made exact as in {@link #shiftedExp}; then each row's sum, and the products by each
   * row's inverse. A row whose first value is 2^20 or more in magnitude, infinite or NaN, or whose
   * sum is above {@link #FIRST_SHIFT_SUM_LIMIT} or NaN (a value more than 44 above the first,
   * infinite or NaN) is then done again by {@link #rowsShiftedByMax}, alone: which way a row goes depends on its values
   * alone, so its softmax does not depend on the rows beside it. Accuracy as the maximum's way:
   * every exp within an ulp of its exact difference, the largest term at most 2^64 rather than 1.
   */
  private static void rowsShiftedByFirst(float[] out, int o, float[] x, int xo, int rows, int size, BlockMath.Scratch s) {
    int m = rows * size, redo = 0;
    int[] again = s.rows;
    for (int r = 0; r < rows; r++) {
      float first = x[xo + r * size];
      java.util.Arrays.fill(s.g, r * size, (r + 1) * size, Math.abs(first) < FIRST_SHIFT_BOUND ? first : 0); // 0: the row is done again
    }
    shiftedExp(s, x, xo, m, false, true);
    float[] e = s.e, inverse = s.out;
    for (int r = 0; r < rows; r++) {
      double sum = BlockMath.sum(e, r * size, size);
      if (!(sum <= FIRST_SHIFT_SUM_LIMIT && Math.abs(x[xo + r * size]) < FIRST_SHIFT_BOUND)) {
        again[redo++] = r;
      }
      java.util.Arrays.fill(inverse, r * size, (r + 1) * size, (float) (1 / sum));
    }
    for (int j = 0; j < m; j++) {
      e[j] *= inverse[j];
    }
    if (redo == 0) {
      System.arraycopy(e, 0, out, o, m);
      return;
    }
    for (int r = 0, i = 0; r < rows; r++) { // rare: the other rows first (out may be x: the rows done again are still there)
      if (i < redo && again[i] == r) {
        i++;
      } else {
        System.arraycopy(e, r * size, out, o + r * size, size);
      }
    }
    for (int i = 0; i < redo; i++) { // again[] is in row order, and rowsShiftedByMax does not touch it
      int r = again[i];
      rowsShiftedByMax(out, o + r * size, x, xo + r * size, 1, size, s, null, null, 0);
    }
  }

  /**
   * The softmax of a block of whole rows, each shifted by its maximum: each row's maximum filled in
   * beside its values, then the shifted exp ({@link #shiftedExp}), each row's sum, and the products
   * by each row's inverse over the whole block. Unless {@code logSum} is null, row r's {@code log(sum)} (in double,
   * {@link ShiftedSum}) and maximum are then written to {@code logSum[at + r]} and {@code max[at + r]}.
   */
  private static void rowsShiftedByMax(float[] out, int o, float[] x, int xo, int rows, int size, BlockMath.Scratch s,
      double[] logSum, float[] max, int at) {
    int m = rows * size;
    boolean extreme = false;
    for (int r = 0; r < rows; r++) {
      float rowMax = rowMax(x, xo + r * size, size);
      java.util.Arrays.fill(s.g, r * size, (r + 1) * size, rowMax);
      extreme |= extreme(rowMax);
    }
    shiftedExp(s, x, xo, m, extreme, false);
    float[] e = s.e, inverse = s.out;
    if (logSum != null) {
      ShiftedSum.split(s, m);
    }
    for (int r = 0; r < rows; r++) {
      double sum;
      if (logSum != null) {
        ShiftedSum row = new ShiftedSum().add(s, r * size, size);
        logSum[at + r] = row.log();
        max[at + r] = s.g[r * size];
        sum = row.sum();
      } else {
        sum = BlockMath.sum(e, r * size, size);
      }
      java.util.Arrays.fill(inverse, r * size, (r + 1) * size, (float) (1 / sum));
    }
    for (int j = 0; j < m; j++) {
      e[j] *= inverse[j];
    }
    System.arraycopy(e, 0, out, o, m);
  }

  /**
   * {@code sum(exp(x[from + k] - max))} over a row of {@code size} values, block by block ({@link
   * #shiftedExp}); each block's exps also copied to {@code out[o + k]} unless {@code out} is null.
   */
  private static double longRowExps(BlockMath.Scratch s, float[] x, int from, int size, float max, float[] out, int o) {
    double sum = 0;
    for (int c = 0; c < size; c += BlockMath.BLOCK) {
      int m = Math.min(BlockMath.BLOCK, size - c);
      java.util.Arrays.fill(s.g, 0, m, max);
      shiftedExp(s, x, from + c, m, extreme(max), false);
      sum += BlockMath.sum(s.e, m);
      if (out != null) {
        System.arraycopy(s.e, 0, out, o + c, m);
      }
    }
    return sum;
  }

  /** Whether a row's maximum is too large for {@link #shiftedExp}'s floor (1e37 or more in magnitude), infinite or NaN. */
  private static boolean extreme(float max) {
    return !(Math.abs(max) < 1e37f);
  }

  /**
   * The largest of {@code x[from, from + n)} (NaN if one is; -infinity for none), in eight running
   * maxima: one chain of Java's float {@code max} (which C2 does not vectorise as a reduction) waits
   * on each step, 0.88 ns a value, eight 0.50.
   */
  private static float rowMax(float[] x, int from, int n) {
    float m0 = Float.NEGATIVE_INFINITY, m1 = m0, m2 = m0, m3 = m0, m4 = m0, m5 = m0, m6 = m0, m7 = m0;
    int k = from, end = from + n;
    for (; k + 8 <= end; k += 8) {
      m0 = Math.max(m0, x[k]);
      m1 = Math.max(m1, x[k + 1]);
      m2 = Math.max(m2, x[k + 2]);
      m3 = Math.max(m3, x[k + 3]);
      m4 = Math.max(m4, x[k + 4]);
      m5 = Math.max(m5, x[k + 5]);
      m6 = Math.max(m6, x[k + 6]);
      m7 = Math.max(m7, x[k + 7]);
    }
    for (; k < end; k++) {
      m0 = Math.max(m0, x[k]);
    }
    return Math.max(Math.max(Math.max(m0, m1), Math.max(m2, m3)), Math.max(Math.max(m4, m5), Math.max(m6, m7)));
  }

  /**
   * {@code s.e[j] = exp(x[from + j] - s.g[j])} for {@code j < m}, {@code s.g} holding each value's
   * row maximum, by {@link BlockMath#exp}. The difference is rounded to float, and its rounding error
   * {@code err} (exact, by Knuth's two-sum) is put back as {@code e (1 + err)}: without it a value 40
   * below the maximum would be off by some 20 ulp (PyTorch's kernel is). Values more than {@code 128
   * + |max|} below their maximum (-infinity among them: masked scores) are raised to that floor
   * first, which keeps every step finite and still gives exactly 0. A maximum of magnitude 1e37 or
   * more, infinite or NaN would make the floor overflow: when the caller says there is one ({@code
   * extreme}, see {@link #extreme}), such values take the plain difference. With {@code above}
   * ({@link #rowsShiftedByFirst}: {@code s.g} a row's first value rather than its maximum) the
   * differences may be positive, and are clamped above too.
   */
  private static void shiftedExp(BlockMath.Scratch s, float[] x, int from, int m, boolean extreme, boolean above) {
    float[] in = s.x, max = s.g, err = s.w, k = s.k, p = s.e;
    System.arraycopy(x, from, in, 0, m);
    float[] v = s.v;
    if (above) { // s.g a row's first value, under 2^20 in magnitude: values above it are also capped, at 88 above
      for (int j = 0; j < m; j++) {
        float mx = max[j];
        float a = Math.min(Math.max(in[j], mx - (128f + Math.abs(mx))), mx + FIRST_SHIFT_CAP);
        float d = a - mx;
        float b = d - a;
        err[j] = (a - (d - b)) + (-mx - b);
        v[j] = d;
      }
    } else if (!extreme) { // kept apart from the exp's loop: as one loop, C2 vectorised it less well (2.4 ns a value, apart 1.4)
      for (int j = 0; j < m; j++) {
        float mx = max[j];
        float a = Math.max(in[j], mx - (128f + Math.abs(mx)));
        float d = a - mx;
        float b = d - a;
        err[j] = (a - (d - b)) + (-mx - b);
        v[j] = d;
      }
    } else { // rare: a row whose maximum is extreme (scalar then)
      for (int j = 0; j < m; j++) {
        float mx = max[j];
        if (Math.abs(mx) < 1e37f) {
          float a = Math.max(in[j], mx - (128f + Math.abs(mx)));
          float d = a - mx;
          float b = d - a;
          err[j] = (a - (d - b)) + (-mx - b);
          v[j] = d;
        } else {
          v[j] = in[j] - mx;
          err[j] = 0;
        }
      }
    }
    if (extreme) { // d may be +inf
      for (int j = 0; j < m; j++) {
        float c = Math.min(Math.max(v[j], BlockMath.EXP_MIN), BlockMath.EXP_MAX), rounded = BlockMath.expRounded(c);
        k[j] = rounded;
        p[j] = BlockMath.expPart(c, rounded);
      }
    } else {
      for (int j = 0; j < m; j++) {
        float c = Math.max(v[j], BlockMath.EXP_MIN), rounded = BlockMath.expRounded(c);
        k[j] = rounded;
        p[j] = BlockMath.expPart(c, rounded);
      }
    }
    BlockMath.powersOfTwo(k, m);
    float[] e = s.e;
    for (int j = 0; j < m; j++) {
      float exp = Math.fma(k[j], p[j], k[j]);
      e[j] = Math.fma(exp, err[j], exp);
    }
  }

  /**
   * {@code dx = y * (dout - sum(dout * y))}, sums along the softmax dimension; {@code y} is the
   * softmax's output. Along the last dimension in float over blocks of whole rows (each row's sum
   * from {@link BlockMath#sum}, in double), as PyTorch's; along another in double. {@code dx} may be {@code dout}
   * (eager softmax's backward writes over the gradient it owns): each row of {@code dout} is read before that row of
   * {@code dx} is written.
   */
  public static void softmaxBackward(
      float[] dx, int dxOff, float[] dout, int dOff, float[] y, int yOff, int outer, int size, int inner) {
    if (inner == 1) {
      alongLastDim(outer, size, (rows, from, scratch) ->
          softmaxBackwardRows(dx, dxOff + from, dout, dOff + from, y, yOff + from, rows, size, scratch));
      return;
    }
    alongRows(outer, size, inner, 2, first -> {
      double dot = 0;
      for (int k = 0; k < size; k++) {
        int at = first + k * inner;
        dot += (double) dout[dOff + at] * y[yOff + at];
      }
      for (int k = 0; k < size; k++) {
        int at = first + k * inner;
        dx[dxOff + at] = (float) (y[yOff + at] * (dout[dOff + at] - dot));
      }
    });
  }

  /**
   * {@link #softmaxBackward} of {@code rows} contiguous rows of {@code size} values, as {@link
   * #softmaxRows} lays them out: each row's {@code sum(dout * y)} filled in beside its values, then
   * {@code y (dout - sum)} over the block; a long row (one at a time) block by block, twice.
   */
  private static void softmaxBackwardRows(float[] dx, int o, float[] dout, int d, float[] y, int yo, int rows, int size,
      BlockMath.Scratch s) {
    float[] product = s.e, dot = s.w, out = s.out;
    if (rows * size > BlockMath.BLOCK) { // one long row
      double sum = 0;
      for (int c = 0; c < size; c += BlockMath.BLOCK) {
        int m = Math.min(BlockMath.BLOCK, size - c);
        productBlock(s, dout, d + c, y, yo + c, m);
        sum += BlockMath.sum(product, m);
      }
      java.util.Arrays.fill(dot, (float) sum);
      for (int c = 0; c < size; c += BlockMath.BLOCK) {
        int m = Math.min(BlockMath.BLOCK, size - c);
        productBlock(s, dout, d + c, y, yo + c, m);
        gradientBlock(s, m);
        System.arraycopy(out, 0, dx, o + c, m);
      }
      return;
    }
    int m = rows * size;
    productBlock(s, dout, d, y, yo, m);
    for (int r = 0; r < rows; r++) {
      java.util.Arrays.fill(dot, r * size, (r + 1) * size, (float) BlockMath.sum(product, r * size, size));
    }
    gradientBlock(s, m);
    System.arraycopy(out, 0, dx, o, m);
  }

  /** {@code s.g} and {@code s.x} the block's incoming gradient and softmax output, {@code s.e} their products. */
  private static void productBlock(BlockMath.Scratch s, float[] dout, int d, float[] y, int yo, int m) {
    System.arraycopy(dout, d, s.g, 0, m);
    System.arraycopy(y, yo, s.x, 0, m);
    float[] g = s.g, yv = s.x, product = s.e;
    for (int j = 0; j < m; j++) {
      product[j] = g[j] * yv[j];
    }
  }

  /** {@code s.out = y (g - dot)} over a block, {@code s.w} holding each value's row sum. */
  private static void gradientBlock(BlockMath.Scratch s, int m) {
    float[] g = s.g, yv = s.x, dot = s.w, out = s.out;
    for (int j = 0; j < m; j++) {
      out[j] = yv[j] * (g[j] - dot[j]);
    }
  }

  /** {@code out = x - logsumexp(x)} along the middle dimension of {@code [outer, size, inner]}. */
  public static void logSoftmaxForward(float[] out, int outOff, float[] x, int xOff, int outer, int size, int inner) {
    alongRows(outer, size, inner, TRANSCENDENTAL, first -> {
      double lse = logSumExp(x, xOff + first, size, inner);
      for (int k = 0; k < size; k++) {
        int at = first + k * inner;
        out[outOff + at] = (float) (x[xOff + at] - lse);
      }
    });
  }

  /**
   * {@code dx = dout - exp(y) * sum(dout)}, sums along the dimension (in double); {@code y} is the log-softmax's output.
   * Along the last dimension the exps are {@link BlockMath#exp}'s (1 ulp) over blocks of whole rows, and {@code dx} one
   * fused multiply-add in float; along another, {@code Math.exp} and the difference in double.
   */
  public static void logSoftmaxBackward(
      float[] dx, int dxOff, float[] dout, int dOff, float[] y, int yOff, int outer, int size, int inner) {
    if (inner == 1) {
      alongLastDim(outer, size, (rows, from, s) -> {
        for (int r = 0; r < rows; r++) { // each row's sum filled in beside its values (s.w)
          double sum = 0;
          for (int k = dOff + from + r * size; k < dOff + from + (r + 1) * size; k++) {
            sum += dout[k];
          }
          if (rows * size > BlockMath.BLOCK) { // one long row: block by block
            for (int c = 0; c < size; c += BlockMath.BLOCK) {
              int m = Math.min(BlockMath.BLOCK, size - c);
              java.util.Arrays.fill(s.w, 0, m, (float) sum);
              logSoftmaxGradientBlock(s, dx, dxOff + from + c, dout, dOff + from + c, y, yOff + from + c, m);
            }
            return;
          }
          java.util.Arrays.fill(s.w, r * size, (r + 1) * size, (float) sum);
        }
        logSoftmaxGradientBlock(s, dx, dxOff + from, dout, dOff + from, y, yOff + from, rows * size);
      });
      return;
    }
    alongRows(outer, size, inner, TRANSCENDENTAL, first -> {
      double sum = 0;
      for (int k = 0; k < size; k++) {
        sum += dout[dOff + first + k * inner];
      }
      for (int k = 0; k < size; k++) {
        int at = first + k * inner;
        dx[dxOff + at] = (float) (dout[dOff + at] - Math.exp(y[yOff + at]) * sum);
      }
    });
  }

  /** {@code dx = dout - exp(y) * s.w} over a block of {@code m} values, {@code s.w} holding each value's row sum of dout. */
  private static void logSoftmaxGradientBlock(BlockMath.Scratch s, float[] dx, int o, float[] dout, int d, float[] y, int yo,
      int m) {
    System.arraycopy(y, yo, s.x, 0, m);
    System.arraycopy(dout, d, s.g, 0, m);
    BlockMath.exp(s.e, s.x, s.k, m); // y is at most 0: -infinity (a masked class) clamped, its exp 0
    float[] e = s.e, sum = s.w, g = s.g, out = s.out;
    for (int j = 0; j < m; j++) {
      out[j] = Math.fma(-e[j], sum[j], g[j]);
    }
    System.arraycopy(out, 0, dx, o, m);
  }

  /** The work on one row of a softmax: the values at {@code first + k * inner}, {@code k < size}. */
  private interface Row {
    void run(int first);
  }

  /**
   * Runs {@code row} for each of the {@code outer * inner} rows of {@code [outer, size, inner]}
   * (row {@code (o, i)} starting at {@code o * size * inner + i}), split over the cores; each row is
   * computed whole by one thread in index order, so the results do not depend on the split.
   */
  private static void alongRows(int outer, int size, int inner, long weight, Row row) {
    int rows = outer * inner;
    Parallel.forRange(rows, weight * rows * size, (part, from, to) -> {
      for (int r = from; r < to; r++) {
        row.run(r / inner * size * inner + r % inner);
      }
    });
  }

  /**
   * {@code log(sum_k exp(x[from + k*stride]))}, shifted by the maximum so that large values do not
   * overflow; a contiguous row ({@code stride = 1}) by {@link BlockMath#exp}'s blocks (each term
   * within an ulp, summed in double), another by {@code Math.exp} in double.
   */
  private static double logSumExp(float[] x, int from, int size, int stride) {
    if (stride == 1) {
      float max = rowMax(x, from, size);
      return max + Math.log(longRowExps(BlockMath.scratch(), x, from, size, max, null, 0));
    }
    float max = Float.NEGATIVE_INFINITY;
    for (int k = 0; k < size; k++) {
      max = Math.max(max, x[from + k * stride]);
    }
    double sum = 0;
    for (int k = 0; k < size; k++) {
      sum += Math.exp((double) x[from + k * stride] - max);
    }
    return max + Math.log(sum);
  }

  // ------------------------------------------------------------------ dropout

  /**
   * Inverted-dropout mask: each entry is 0 with probability {@code p}, else {@code 1 / (1 - p)},
   * one uniform draw from {@code rng} per entry, entry {@code i} taking the {@code i}-th draw (as
   * {@code n} calls of {@link Generator#nextDouble()} would give them). With {@code p = 1} every
   * entry is 0. The draws are {@link Generator#reserve reserved} and computed on both cores; the
   * CUDA kernel computes the same ones on the GPU.
   *
   * <p>Each entry is {@code Generator.doubleAt(start, i) < p ? 0 : keep}, computed without a double or a branch (a
   * third of the time, docs/design-notes.md "dropout"): the draw's 53 bits against {@link Generator#bitsBelow}{@code
   * (p)} (the same test in integers), the state stepped by an addition, and the difference's sign, spread over all
   * 32 bits, clearing the keep scale's bits.
   */
  public static void dropoutMask(float[] mask, int maskOff, int n, double p, Generator rng) {
    int keepBits = Float.floatToRawIntBits(keepScale(p));
    long below = Generator.bitsBelow(p);
    long start = rng.reserve(n);
    Parallel.forRange(n, 3L * n, (part, from, to) -> {
      long state = Generator.stateAt(start, from);
      for (int i = from; i < to; i++, state = Generator.nextState(state)) {
        mask[maskOff + i] = maskEntry(state, below, keepBits);
      }
    });
  }

  /**
   * Dropout's forward, {@code out = x * mask}, each mask entry drawn as {@link #dropoutMask} draws it (the same draws,
   * the same bits), in one call: the mask goes to {@code mask[maskOff..]} for the backward, or with {@code mask} null
   * (nothing will run a backward: no grad, or an input that needs none) it is not kept, and its entries are drawn into
   * {@code out} and multiplied there. {@code out} may be {@code x} at the same offset.
   *
   * <p>Each core's part is drawn and then multiplied, two loops rather than one: the one loop (draw, store the entry,
   * multiply, store the product) measured slower on one thread, 1.38-1.43 ns a value against 1.23-1.29 over 65,536
   * values, and no faster over 4 M (docs/design-notes.md, "Dropout in one call"). The draw is bound by its dozen integer
   * operations (three cycles), and the product added to that loop costs more than the second loop, which C2
   * vectorises, takes to read the mask back.
   */
  public static void dropoutForward(float[] out, int outOff, float[] x, int xOff, float[] mask, int maskOff, int n, double p,
      Generator rng) {
    int keepBits = Float.floatToRawIntBits(keepScale(p));
    long below = Generator.bitsBelow(p);
    long start = rng.reserve(n);
    Parallel.forRange(n, 4L * n, (part, from, to) -> {
      long state = Generator.stateAt(start, from);
      if (mask == null && out == x) { // in place and not kept: nowhere to draw the entries first
        for (int i = from; i < to; i++, state = Generator.nextState(state)) {
          out[outOff + i] = x[xOff + i] * maskEntry(state, below, keepBits);
        }
        return;
      }
      float[] m = mask == null ? out : mask;
      int mOff = mask == null ? outOff : maskOff;
      for (int i = from; i < to; i++, state = Generator.nextState(state)) {
        m[mOff + i] = maskEntry(state, below, keepBits);
      }
      multiply(out, outOff, x, xOff, m, mOff, from, to);
    });
  }

  /**
   * The mask entry of the draw that mixes {@code state}: 0 when its 53 bits are below {@code below} ({@link
   * Generator#bitsBelow}{@code (p)}), else the float of {@code keepBits}; the difference's sign, spread over all 32
   * bits, clears the keep scale's bits, with no branch.
   */
  private static float maskEntry(long state, long below, int keepBits) {
    long dropped = (Generator.bits(state) - below) >> 63; // all ones when the draw is below p, else 0
    return Float.intBitsToFloat(keepBits & ~(int) dropped);
  }

  /**
   * {@code 1 / (1 - p)} in float, as PyTorch computes it ({@code noise.div_(1 - p)}: 1 over the float
   * {@code 1 - p}; dividing in double and rounding once differs by an ulp for some p): what dropout
   * scales the kept entries by (infinite for p = 1, but then nothing is kept).
   */
  public static float keepScale(double p) {
    return 1f / (float) (1.0 - p);
  }

  /**
   * {@code out = x * mask}: dropout's forward (x the input) and its backward (x the output gradient), GELU's backward
   * ({@code mask} the slope its forward kept). Where all three start at one offset (eager arrays: at 0) the loop
   * indexes them with one variable, which C2 vectorises: over [64, 28, 128] in place (GELU's backward over the
   * gradient it owns) 0.023 ms against 0.071 with three offsets, one thread.
   */
  public static void applyMask(float[] out, int outOff, float[] x, int xOff, float[] mask, int maskOff, int n) {
    Parallel.forRange(n, n, (part, from, to) -> multiply(out, outOff, x, xOff, mask, maskOff, from, to));
  }

  /** {@link #applyMask}'s products from {@code from} to {@code to}, by one index where the offsets are one. */
  private static void multiply(float[] out, int outOff, float[] x, int xOff, float[] mask, int maskOff, int from, int to) {
    if (outOff == xOff && xOff == maskOff) {
      for (int i = outOff + from; i < outOff + to; i++) {
        out[i] = x[i] * mask[i];
      }
      return;
    }
    for (int i = from; i < to; i++) {
      out[outOff + i] = x[xOff + i] * mask[maskOff + i];
    }
  }

  // ------------------------------------------------------------------ regression losses, per element

  /** {@code out = |x - target|}. */
  public static void l1Forward(float[] out, int outOff, float[] x, int xOff, float[] target, int tOff, int n) {
    for (int i = 0; i < n; i++) {
      out[outOff + i] = Math.abs(x[xOff + i] - target[tOff + i]);
    }
  }

  /** {@code dx = dout * sign(x - target)} (0 where they are equal); the target's gradient is {@code -dx}. */
  public static void l1Backward(float[] dx, int dxOff, float[] dout, int dOff, float[] x, int xOff, float[] target, int tOff, int n) {
    for (int i = 0; i < n; i++) {
      dx[dxOff + i] = dout[dOff + i] * Math.signum(x[xOff + i] - target[tOff + i]);
    }
  }

  /** {@code out = (x - target)^2}. */
  public static void mseForward(float[] out, int outOff, float[] x, int xOff, float[] target, int tOff, int n) {
    for (int i = 0; i < n; i++) {
      float d = x[xOff + i] - target[tOff + i];
      out[outOff + i] = d * d;
    }
  }

  /** {@code dx = dout * 2 * (x - target)}; the target's gradient is {@code -dx}. */
  public static void mseBackward(float[] dx, int dxOff, float[] dout, int dOff, float[] x, int xOff, float[] target, int tOff, int n) {
    for (int i = 0; i < n; i++) {
      dx[dxOff + i] = dout[dOff + i] * 2f * (x[xOff + i] - target[tOff + i]);
    }
  }
}
