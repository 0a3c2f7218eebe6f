package dev.kiln.runtime.cpu;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;
import java.util.Random;
import java.util.function.DoubleUnaryOperator;
import org.junit.jupiter.api.Test;

/**
 * The float kernels of sigmoid, tanh, SiLU and GELU (forward, and the gradients computed from the
 * input) and {@link BlockMath#exp}: against the functions in double over a million values (normal,
 * uniform to ±30, magnitudes from 1e-41 to 1e37, special values), at the bounds their Javadoc
 * states; the special values one by one; and a few values against PyTorch 1.13's own float
 * kernels.
 */
class SmoothActivationsTest {
  private static final float[] SPECIAL = {0f, -0f, Float.MIN_VALUE, -Float.MIN_VALUE, 1e-40f, Float.MIN_NORMAL, -1e-30f, 3e-8f,
      -1e-5f, 0.0625f, 0.62499994f, 0.625f, -0.625f, 1f, -3f, 5.4f, -5.4f, -9f, 9f, 10f, -13f, -14f, -20f, 20f, 88.7f, 88.8f,
      -87f, -88.7f, -100f, -104f, 104f, 400f, 1e30f, -1e30f, Float.MAX_VALUE, -Float.MAX_VALUE, Float.POSITIVE_INFINITY,
      Float.NEGATIVE_INFINITY, Float.NaN};

  /** A million and some values: what a network feeds its activations, the tails, every magnitude, and {@link #SPECIAL}. */
  private static float[] inputs() {
    Random r = new Random(7);
    float[] x = new float[1_000_000 + SPECIAL.length];
    for (int i = 0; i < 1_000_000; i++) {
      x[i] = i < 400_000 ? (float) (r.nextGaussian() * 3)
          : i < 700_000 ? (float) ((r.nextDouble() * 2 - 1) * 30)
          : (float) ((r.nextBoolean() ? 1 : -1) * Math.exp(r.nextDouble() * 180 - 95));
    }
    System.arraycopy(SPECIAL, 0, x, 1_000_000, SPECIAL.length);
    return x;
  }

  private static final float[] X = inputs();

  private static double sigmoid(double v) {
    return 1 / (1 + Math.exp(-v));
  }

  /** The largest errors of {@code got} against {@code want} over the values of X within [lo, hi]. */
  private record Errors(double ulps, double abs, double rel, float worstX) {
    @Override public String toString() {
      return String.format("max %.3f ulp, abs %.3g, rel %.3g (worst at x = %s)", ulps, abs, rel, worstX);
    }
  }

  /**
   * Checks {@code got} against {@code want} over X: NaN where it is NaN, infinities equal, and
   * returns the errors over the finite values with x in [lo, hi] (in ulps where the exact value is a
   * normal float); outside [lo, hi] the result must be within {@code tailAbs} of the exact value.
   */
  private static Errors errors(String name, float[] got, DoubleUnaryOperator want, double lo, double hi, double tailAbs) {
    double ulps = 0, abs = 0, rel = 0;
    float worst = 0;
    for (int i = 0; i < X.length; i++) {
      double w = want.applyAsDouble(X[i]);
      float g = got[i];
      if (Double.isNaN(w) || Double.isInfinite(w)) {
        assertTrue(Double.isNaN(w) ? Float.isNaN(g) : g == w, name + "(" + X[i] + ") = " + g + ", want " + w);
        continue;
      }
      assertTrue(Float.isFinite(g), name + "(" + X[i] + ") = " + g + ", want " + w);
      double e = Math.abs(g - w);
      if (!(X[i] >= lo && X[i] <= hi)) {
        assertTrue(e <= tailAbs, name + "(" + X[i] + ") = " + g + ", want " + w);
        continue;
      }
      abs = Math.max(abs, e);
      if (Math.abs(w) >= Float.MIN_NORMAL) {
        rel = Math.max(rel, e / Math.abs(w));
        double u = e / Math.ulp((float) w);
        if (u > ulps) {
          ulps = u;
          worst = X[i];
        }
      }
    }
    return new Errors(ulps, abs, rel, worst);
  }

  private static float[] forward(Kernel k) {
    float[] out = new float[X.length];
    k.run(out, X);
    return out;
  }

  private static float[] gradient(Backward k) {
    float[] ones = new float[X.length];
    Arrays.fill(ones, 1f);
    float[] dx = new float[X.length];
    k.run(dx, 0, ones, 0, X, 0, X.length);
    return dx;
  }

  private interface Kernel {
    void run(float[] out, float[] x);
  }

  private interface Backward {
    void run(float[] dx, int dxOff, float[] dout, int dOff, float[] x, int xOff, int n);
  }

  @Test
  void sigmoidIsWithinOneAndAHalfUlpsAndFlushesOnlySubnormalResults() {
    Errors e = errors("sigmoid", forward((o, x) -> ActivationKernels.sigmoidForward(o, 0, x, 0, x.length)),
        SmoothActivationsTest::sigmoid, -87.3, Double.POSITIVE_INFINITY, Float.MIN_NORMAL);
    assertTrue(e.ulps <= 1.5, "sigmoid: " + e); // measured 1.44; PyTorch 2.30
  }

  @Test
  void tanhIsWithinOneUlpOfTheCorrectlyRoundedValue() {
    float[] got = forward((o, x) -> ActivationKernels.tanhForward(o, 0, x, 0, x.length));
    Errors e = errors("tanh", got, Math::tanh, Double.NEGATIVE_INFINITY, Double.POSITIVE_INFINITY, 0);
    assertTrue(e.ulps <= 1, "tanh: " + e); // measured 0.94; PyTorch 1.00
    for (int i = 0; i < X.length; i++) {
      float want = (float) Math.tanh(X[i]);
      assertTrue(Float.compare(want, got[i]) == 0 || Math.abs(want - got[i]) <= Math.ulp(want), "tanh(" + X[i] + ") = " + got[i]);
    }
  }

  @Test
  void siluIsWithinOnePointSevenUlpsWhereItsSigmoidIsNormal() {
    Errors e = errors("silu", forward((o, x) -> ActivationKernels.siluForward(o, 0, x, 0, x.length)),
        v -> v == Double.NEGATIVE_INFINITY ? -0.0 : v * sigmoid(v), -87.3, Double.POSITIVE_INFINITY, 1e-35);
    assertTrue(e.ulps <= 1.7, "silu: " + e); // measured 1.60; PyTorch 2.18
  }

  @Test
  void siluGradientIsWithinTwoTenthsOfAMillionthAndRelativelyAccurateInTheTails() {
    DoubleUnaryOperator want = v -> Double.isInfinite(v) ? (v > 0 ? 1 : 0) : sigmoid(v) * (1 + v * sigmoid(-v));
    float[] got = gradient(ActivationKernels::siluBackward);
    Errors e = errors("silu'", got, want, -87.3, Double.POSITIVE_INFINITY, 1e-35);
    assertTrue(e.abs <= 2e-7, "silu': " + e); // measured 1.5e-7; PyTorch 9.8e-7
    Errors tail = errors("silu'", got, want, -87.3, -3, 1.5);
    assertTrue(tail.rel <= 2.5e-7, "silu' below -3: " + tail); // measured 2.1e-7; PyTorch 2.3e-7
  }

  @Test
  void geluIsWithinAFewUlpsDownToTheSmallestNormalResults() {
    Errors e = errors("gelu", forward((o, x) -> ActivationKernels.geluForward(o, 0, x, 0, x.length)),
        v -> Double.isInfinite(v) ? (v > 0 ? v : -0.0) : v * DoubleNormal.cdf(v), -13, Double.POSITIVE_INFINITY, 1e-36);
    assertTrue(e.ulps <= 6, "gelu: " + e); // measured 5.7; PyTorch 9.7 near 0 and 0 (16.8M ulp) below -5.4
  }

  @Test
  void geluGradientIsWithinTwoTenthsOfAMillionthAndRelativelyAccurateInTheTail() {
    DoubleUnaryOperator want = v -> Double.isInfinite(v) ? (v > 0 ? 1 : 0) : DoubleNormal.cdf(v) + v * DoubleNormal.density(v);
    float[] got = gradient(ActivationKernels::geluBackward);
    Errors e = errors("gelu'", got, want, -13, Double.POSITIVE_INFINITY, 1e-35);
    assertTrue(e.abs <= 2e-7, "gelu': " + e); // measured 1.8e-7; PyTorch 2.8e-7
    Errors tail = errors("gelu'", got, want, -13, -2, 1.5);
    assertTrue(tail.rel <= 3e-7, "gelu' below -2: " + tail); // measured 2.3e-7; PyTorch 1 (0 below -5.4)
  }

  /**
   * The compiled forward's GELU keeps the slope for its backward (one product there): its output and slope times a
   * gradient must be the bits of the eager forward and backward over every value of X, at offsets.
   */
  @Test
  void geluSlopeKeptByTheForwardGivesTheBackwardsBits() {
    int n = X.length;
    float[] x = new float[3 + n], dout = new float[n], out = new float[2 + n], slope = new float[5 + n];
    System.arraycopy(X, 0, x, 3, n);
    Random r = new Random(3);
    for (int i = 0; i < n; i++) {
      dout[i] = (float) r.nextGaussian();
    }
    ActivationKernels.geluForward(out, 2, x, 3, n, slope, 5);
    float[] want = new float[n], dx = new float[n];
    ActivationKernels.geluForward(want, 0, X, 0, n);
    ActivationKernels.geluBackward(dx, 0, dout, 0, X, 0, n);
    for (int i = 0; i < n; i++) {
      assertEquals(Float.floatToIntBits(want[i]), Float.floatToIntBits(out[2 + i]), "gelu(" + X[i] + ")");
      assertEquals(Float.floatToIntBits(dx[i]), Float.floatToIntBits(dout[i] * slope[5 + i]), "gelu'(" + X[i] + ")");
    }
  }

  @Test
  void expIsWithinOneUlpAndFlushesBelowTheNormalRange() {
    int m = BlockMath.BLOCK;
    float[] v = new float[m], e = new float[m], k = new float[m];
    Random r = new Random(3);
    double worst = 0;
    for (int round = 0; round < 2000; round++) {
      for (int j = 0; j < m; j++) {
        v[j] = (float) (r.nextDouble() * 175 - 87);
      }
      BlockMath.exp(e, v, k, m);
      for (int j = 0; j < m; j++) {
        double want = Math.exp(v[j]);
        worst = Math.max(worst, Math.abs(e[j] - want) / Math.ulp((float) want));
      }
    }
    assertTrue(worst <= 1.01, "exp: max " + worst + " ulp");
    float[] special = {0f, -0f, -88f, -1000f, Float.NEGATIVE_INFINITY, Float.NaN, 88.3f, Float.POSITIVE_INFINITY};
    BlockMath.exp(e, special, k, special.length);
    float saturated = (float) Math.exp(88.3f); // the callers' arguments are at most 0: exp saturates above 88.3
    assertArrayEquals(new float[] {1f, 1f, 0f, 0f, 0f, Float.NaN, saturated, saturated}, Arrays.copyOf(e, special.length),
        Math.ulp(saturated));
  }

  /**
   * The exp's two parts as the kernels use them ({@code k = 2^n} from {@link BlockMath#powersOfTwo},
   * {@code p = e^r - 1}, the result {@code fma(k, p, k)}) at the edges of their range: the same bits
   * as {@link BlockMath#exp}, within an ulp of the exact value where it is normal, within one
   * subnormal step (or 0 from -87.683 on) below, 1 for ±0 and subnormal arguments, NaN for NaN.
   */
  @Test
  void expPartsAtTheEdgesOfTheirRange() {
    float[] v = {0f, -0f, Float.MIN_VALUE, -Float.MIN_VALUE, 1e-40f, -1e-40f, Float.MIN_NORMAL, 1e-8f, -1e-8f, 0.34657359f,
        -0.34657359f, 1f, -1f, -10f, 10f, -87.3f, -87.33655f, -87.5f, -87.68f, -87.69f, -87.7f, -88f, 88f, 88.3f, Float.NaN};
    int m = v.length;
    float[] k = new float[m], p = new float[m], e = new float[m], scratch = new float[m];
    for (int j = 0; j < m; j++) {
      k[j] = BlockMath.expRounded(v[j]);
      p[j] = BlockMath.expPart(v[j], k[j]);
    }
    BlockMath.powersOfTwo(k, m);
    BlockMath.exp(e, v, scratch, m);
    for (int j = 0; j < m; j++) {
      float got = Math.fma(k[j], p[j], k[j]);
      assertEquals(Float.floatToIntBits(e[j]), Float.floatToIntBits(got), "parts and exp at " + v[j]);
      double want = Math.exp(v[j]);
      if (Float.isNaN(v[j])) {
        assertTrue(Float.isNaN(got), "exp(NaN)");
      } else if (Math.abs(v[j]) < 1e-30f) {
        assertEquals(1f, got, "exp(" + v[j] + ")");
      } else if (want >= Float.MIN_NORMAL) {
        assertEquals(want, got, Math.ulp((float) want), "exp(" + v[j] + ")");
      } else if (v[j] <= -87.69f) { // n = -127 from -87.683 on
        assertEquals(0f, got, "exp(" + v[j] + ")");
      } else {
        assertEquals(want, got, Float.MIN_VALUE, "exp(" + v[j] + ") (subnormal)");
      }
    }
  }

  @Test
  void specialValues() {
    float[] x = {Float.NEGATIVE_INFINITY, Float.POSITIVE_INFINITY, Float.NaN, -100f, -0f, 0f, Float.MIN_VALUE};
    assertBits(new float[] {0f, 1f, Float.NaN, 0f, 0.5f, 0.5f, 0.5f}, x, ActivationKernels::sigmoidForward, "sigmoid");
    assertBits(new float[] {-1f, 1f, Float.NaN, -1f, -0f, 0f, Float.MIN_VALUE}, x, ActivationKernels::tanhForward, "tanh");
    assertBits(new float[] {-0f, Float.POSITIVE_INFINITY, Float.NaN, -0f, -0f, 0f, 0f}, x, ActivationKernels::siluForward, "silu");
    // gelu(MIN_VALUE) = MIN_VALUE Phi(MIN_VALUE), a little above half the smallest subnormal, rounds to MIN_VALUE (PyTorch: 0)
    assertBits(new float[] {-0f, Float.POSITIVE_INFINITY, Float.NaN, -0f, -0f, 0f, Float.MIN_VALUE}, x, ActivationKernels::geluForward, "gelu");
    float[] ones = new float[x.length];
    Arrays.fill(ones, 1f);
    float[] dx = new float[x.length];
    ActivationKernels.siluBackward(dx, 0, ones, 0, x, 0, x.length);
    assertArrayEquals(new float[] {0f, 1f, Float.NaN, 0f, 0.5f, 0.5f, 0.5f}, dx, 0f, "silu'");
    ActivationKernels.geluBackward(dx, 0, ones, 0, x, 0, x.length);
    assertArrayEquals(new float[] {0f, 1f, Float.NaN, 0f, 0.5f, 0.5f, 0.5f}, dx, 0f, "gelu'");
  }

  private interface Forward {
    void run(float[] out, int outOff, float[] x, int xOff, int n);
  }

  private static void assertBits(float[] want, float[] x, Forward k, String name) {
    float[] out = new float[x.length];
    k.run(out, 0, x, 0, x.length);
    for (int i = 0; i < x.length; i++) {
      assertEquals(Float.floatToIntBits(want[i]), Float.floatToIntBits(out[i]), name + "(" + x[i] + ") = " + out[i] + ", want " + want[i]);
    }
  }

  /** Values of PyTorch 1.13's float kernels (torch.sigmoid, torch.tanh, F.silu, F.gelu and their gradients), computed with /usr/bin/python3. */
  private static final float[] TORCH_X = {-20.0f, -8.0f, -3.0f, -1.0f, -0.5f, -0.0010000000474974513f, 0.25f, 0.699999988079071f, 1.5f,
      4.0f, 10.0f};
  private static final float[][] TORCH = {
      {2.06115369216775e-09f, 0.00033535013790242374f, 0.04742587357759476f, 0.2689414322376251f, 0.3775406777858734f,
          0.499750018119812f, 0.562176525592804f, 0.6681877374649048f, 0.8175744414329529f, 0.9820137619972229f, 0.9999545812606812f},
      {-1.0f, -0.9999997615814209f, -0.9950547814369202f, -0.7615941762924194f, -0.46211716532707214f, -0.0009999996982514858f,
          0.24491865932941437f, 0.6043677926063538f, 0.9051482677459717f, 0.9993293285369873f, 1.0f},
      {-4.1223074731533416e-08f, -0.00268280110321939f, -0.14227761328220367f, -0.2689414322376251f, -0.1887703388929367f,
          -0.0004997500218451023f, 0.140544131398201f, 0.46773141622543335f, 1.226361632347107f, 3.9280550479888916f, 9.99954605102539f},
      {0.0f, 0.0f, -0.004049867391586304f, -0.1586552858352661f, -0.1542687863111496f, -0.0004996011266484857f, 0.14967656135559082f,
          0.5306254625320435f, 1.3997890949249268f, 3.999873161315918f, 10.0f},
      {-3.916192170549948e-08f, -0.002346551278606057f, -0.08810410648584366f, 0.07232948392629623f, 0.260038822889328f,
          0.49950000643730164f, 0.623710036277771f, 0.8233867287635803f, 1.0412942171096802f, 1.0526646375656128f, 1.0004087686538696f},
      {0.0f, 0.0f, -0.011945605278015137f, -0.08331543207168579f, 0.1325049102306366f, 0.4992021918296814f, 0.6953732967376709f,
          0.9766141176223755f, 1.1274691820144653f, 1.000503659248352f, 1.0f},
  };

  @Test
  void agreeWithPyTorchsFloatKernels() {
    int n = TORCH_X.length;
    float[][] got = new float[6][n];
    ActivationKernels.sigmoidForward(got[0], 0, TORCH_X, 0, n);
    ActivationKernels.tanhForward(got[1], 0, TORCH_X, 0, n);
    ActivationKernels.siluForward(got[2], 0, TORCH_X, 0, n);
    ActivationKernels.geluForward(got[3], 0, TORCH_X, 0, n);
    float[] ones = new float[n];
    Arrays.fill(ones, 1f);
    ActivationKernels.siluBackward(got[4], 0, ones, 0, TORCH_X, 0, n);
    ActivationKernels.geluBackward(got[5], 0, ones, 0, TORCH_X, 0, n);
    String[] names = {"sigmoid", "tanh", "silu", "gelu", "silu'", "gelu'"};
    for (int f = 0; f < 6; f++) {
      for (int i = 0; i < n; i++) {
        float want = TORCH[f][i];
        // both sides a few ulps from the exact value, but PyTorch's GELU computes 1 + erf(x / sqrt 2), which cancels
        // below 0: an absolute error up to 3.8e-7 (gelu(-3) is -0.0040496940, PyTorch's -0.0040498674), 0 below -5.4 or so
        double tolerance = f >= 3 ? 4e-7 : 6 * Math.ulp(want);
        assertEquals(want, got[f][i], tolerance, names[f] + "(" + TORCH_X[i] + ")");
      }
    }
  }

  @Test
  void everyOffsetAndSplitGivesTheSameValues() {
    int n = 3 * BlockMath.BLOCK + 77; // blocks and a remainder; over 2 cores when there are
    float[] x = Arrays.copyOf(X, n + 5);
    float[] g = new float[n + 5];
    Arrays.fill(g, -2f);
    for (Forward k : new Forward[] {ActivationKernels::sigmoidForward, ActivationKernels::tanhForward, ActivationKernels::siluForward,
        ActivationKernels::geluForward}) {
      float[] whole = new float[n];
      k.run(whole, 0, x, 0, n);
      float[] shifted = new float[n + 3];
      k.run(shifted, 3, x, 0, n);
      float[] one = new float[1];
      for (int i = 0; i < n; i += 97) {
        k.run(one, 0, x, i, 1);
        assertEquals(Float.floatToIntBits(whole[i]), Float.floatToIntBits(one[0]), "value " + i + " alone");
      }
      assertArrayEquals(whole, Arrays.copyOfRange(shifted, 3, n + 3));
      float[] inPlace = Arrays.copyOf(x, n);
      k.run(inPlace, 0, inPlace, 0, n);
      assertArrayEquals(whole, inPlace);
    }
    for (Backward k : new Backward[] {ActivationKernels::siluBackward, ActivationKernels::geluBackward}) {
      float[] whole = new float[n];
      k.run(whole, 0, g, 0, x, 0, n);
      float[] shifted = new float[n + 2];
      k.run(shifted, 2, g, 1, x, 0, n);
      assertArrayEquals(whole, Arrays.copyOfRange(shifted, 2, n + 2));
      float[] inPlace = Arrays.copyOf(g, n); // dx over dout, as the tape passes them
      k.run(inPlace, 0, inPlace, 0, x, 0, n);
      assertArrayEquals(whole, inPlace);
    }
  }
}
