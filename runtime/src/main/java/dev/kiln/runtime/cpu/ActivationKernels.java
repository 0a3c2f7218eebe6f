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

  // ------------------------------------------------------------------ sigmoid, tanh, leaky ReLU

  /** Work weight of an element of sigmoid or tanh (an exp and a division) for {@link Parallel#forRange}. */
  private static final long TRANSCENDENTAL = 16;

  /**
   * {@code out = 1 / (1 + exp(-x))}, without overflow for large |x|: {@code e = exp(-|x|)} in (0, 1]
   * gives {@code 1 / (1 + e)} for {@code x >= 0} and {@code e / (1 + e)} below, in double, one
   * division with the numerator chosen (a select, not a branch that random signs mispredict).
   */
  public static void sigmoidForward(float[] out, int outOff, float[] x, int xOff, int n) {
    Parallel.forRange(n, TRANSCENDENTAL * n, (part, from, to) -> {
      for (int i = from; i < to; i++) {
        out[outOff + i] = (float) sigmoid(x[xOff + i]);
      }
    });
  }

  /** {@code 1 / (1 + exp(-v))} as {@link #sigmoidForward} computes it, in double. */
  static double sigmoid(double v) {
    double e = Math.exp(-Math.abs(v));
    return (v >= 0 ? 1.0 : e) / (1 + e);
  }

  /** {@code tanh(v)} as {@link #tanhForward} computes it, in double: a series near 0, else from exp. */
  static double tanh(double v) {
    double a = Math.abs(v);
    double s = a * a;
    double series = a * (1 + s * (-1.0 / 3 + s * (2.0 / 15 + s * (-17.0 / 315 + s * (62.0 / 2835)))));
    double t = a < 0.0625 ? series : 1 - 2 / (Math.exp(2 * a) + 1);
    return Math.copySign(t, v);
  }

  /**
   * {@code out = x * Phi(x)}, GELU as PyTorch's default (the normal distribution's CDF {@code Phi(x)
   * = (1 + erf(x / sqrt 2)) / 2}), in double, rounded once.
   */
  public static void geluForward(float[] out, int outOff, float[] x, int xOff, int n) {
    Parallel.forRange(n, 4 * TRANSCENDENTAL * n, (part, from, to) -> {
      for (int i = from; i < to; i++) {
        double v = x[xOff + i];
        out[outOff + i] = (float) (v * normalCdf(v));
      }
    });
  }

  /** {@code dx = dout * (Phi(x) + x phi(x))}, from the input x; {@code phi} the normal density. */
  public static void geluBackward(float[] dx, int dxOff, float[] dout, int dOff, float[] x, int xOff, int n) {
    Parallel.forRange(n, 4 * TRANSCENDENTAL * n, (part, from, to) -> {
      for (int i = from; i < to; i++) {
        double v = x[xOff + i];
        double density = Math.exp(-0.5 * v * v) * 0.3989422804014327; // 1 / sqrt(2 pi)
        dx[dxOff + i] = (float) (dout[dOff + i] * (normalCdf(v) + v * density));
      }
    });
  }

  /**
   * {@code out = x / (1 + exp(-x))}, SiLU ("swish", {@code x sigmoid(x)}), in double with the
   * sigmoid's overflow-free form, rounded once.
   */
  public static void siluForward(float[] out, int outOff, float[] x, int xOff, int n) {
    Parallel.forRange(n, TRANSCENDENTAL * n, (part, from, to) -> {
      for (int i = from; i < to; i++) {
        double v = x[xOff + i];
        double e = Math.exp(-Math.abs(v));
        out[outOff + i] = (float) (v * (v >= 0 ? 1.0 : e) / (1 + e));
      }
    });
  }

  /** {@code dx = dout * s (1 + x (1 - s))}, {@code s = sigmoid(x)}, from the input x, in double. */
  public static void siluBackward(float[] dx, int dxOff, float[] dout, int dOff, float[] x, int xOff, int n) {
    Parallel.forRange(n, TRANSCENDENTAL * n, (part, from, to) -> {
      for (int i = from; i < to; i++) {
        double v = x[xOff + i];
        double e = Math.exp(-Math.abs(v));
        double s = (v >= 0 ? 1.0 : e) / (1 + e);
        dx[dxOff + i] = (float) (dout[dOff + i] * s * (1 + v * (1 - s)));
      }
    });
  }

  /** The standard normal CDF, {@code (1 + erf(v / sqrt 2)) / 2}, from {@link #erf} and {@link #erfc} (no cancellation in either tail). */
  static double normalCdf(double v) {
    double z = v * 0.7071067811865476;
    return z < -0.5 ? 0.5 * erfc(-z) : z > 0.5 ? 1 - 0.5 * erfc(z) : 0.5 * (1 + erf(z));
  }

  /**
   * The error function to about 1e-15 relative: for |z| up to 0.5 its Maclaurin series {@code
   * 2/sqrt(pi) sum (-1)^k z^(2k+1) / (k! (2k+1))} to z^25 ({@link #ERF_TAYLOR}, by Horner's rule: the
   * next term is below 2e-16 of the sum), else {@code 1 - erfc}. Java's Math has none.
   */
  static double erf(double z) {
    double a = Math.abs(z);
    if (a > 0.5) {
      return Math.copySign(1 - erfc(a), z);
    }
    double z2 = z * z, p = ERF_TAYLOR[ERF_TAYLOR.length - 1];
    for (int k = ERF_TAYLOR.length - 2; k >= 0; k--) {
      p = p * z2 + ERF_TAYLOR[k];
    }
    return z * p; // NaN stays NaN
  }

  /** {@code 2/sqrt(pi) (-1)^k / (k! (2k+1))}, the Maclaurin coefficients of {@code erf(z) / z} in {@code z^2}. */
  private static final double[] ERF_TAYLOR = {
    1.1283791670955126, -0.37612638903183754, 0.11283791670955126, -0.026866170645131252, 0.005223977625442188,
    -0.0008548327023450852, 0.00012055332981789664, -1.492565035840625e-05, 1.6462114365889246e-06,
    -1.6365844691234924e-07, 1.4807192815879218e-08, -1.2290555301717926e-09, 9.422759064650411e-11
  };

  /**
   * The complementary error function, to about 2e-15 relative for {@code z >= 0.5}: there {@code
   * exp(-z^2) h(z)} with {@code h = exp(z^2) erfc(z)}, smooth and slowly varying, as a Chebyshev
   * series on [0.5, 4] ({@link #ERFC_CHEBYSHEV}, fitted to 1e-15 with mpmath at 40 digits), and
   * above 4 by Lentz's evaluation of erfc's continued fraction (20 terms or fewer there); below
   * 0.5, {@code 1 - erf(z)}.
   */
  static double erfc(double z) {
    if (Double.isNaN(z)) {
      return z;
    }
    if (z < 0.5) {
      return 1 - erf(z);
    }
    if (z <= 4) {
      double t = (2 * z - 4.5) / 3.5, b1 = 0, b2 = 0; // [0.5, 4] onto [-1, 1]; Clenshaw's recurrence
      for (int j = ERFC_CHEBYSHEV.length - 1; j > 0; j--) {
        double next = 2 * t * b1 - b2 + ERFC_CHEBYSHEV[j];
        b2 = b1;
        b1 = next;
      }
      return Math.exp(-z * z) * (t * b1 - b2 + ERFC_CHEBYSHEV[0]);
    }
    if (z > 27.3) {
      return 0; // below the smallest subnormal double
    }
    // f = z + (1/2) / (z + (2/2) / (z + (3/2) / (z + ...))), by the modified Lentz method
    double tiny = 1e-300, f = z, c = z, d = 0;
    for (int k = 1; k < 100; k++) {
      double ak = k * 0.5;
      d = z + ak * d;
      d = d == 0 ? tiny : d;
      c = z + ak / c;
      c = c == 0 ? tiny : c;
      d = 1 / d;
      double delta = c * d;
      f *= delta;
      if (Math.abs(delta - 1) < 1e-15) {
        break;
      }
    }
    return Math.exp(-z * z) / (f * 1.7724538509055159); // sqrt(pi)
  }

  /** Chebyshev coefficients of {@code exp(z^2) erfc(z)} on [0.5, 4], the first already halved. */
  private static final double[] ERFC_CHEBYSHEV = {
    0.2968184547907382, -0.2143991088682926, 0.07208344566478073, -0.022822076624612848, 0.0068604486580147684,
    -0.001970190933285587, 0.0005431390253291964, -0.00014428962371333733, 3.7055640273764505e-05,
    -9.22394902493437e-06, 2.23047592465587e-06, -5.249700976478114e-07, 1.2046393237706074e-07,
    -2.699013923723599e-08, 5.912153379873151e-09, -1.2676062940194933e-09, 2.6630247852094154e-10,
    -5.48691413230239e-11, 1.1097252475647056e-11, -2.20483766367429e-12, 4.30648172581925e-13,
    -8.274455125560587e-14, 1.5649142416039535e-14, -2.914795554208555e-15, 5.344766722322899e-16,
    -9.376562388625624e-17
  };

  /** {@code dx = dout * y * (1 - y)}, where {@code y} is the sigmoid's output. */
  public static void sigmoidBackward(float[] dx, int dxOff, float[] dout, int dOff, float[] y, int yOff, int n) {
    Parallel.forRange(n, n, (part, from, to) -> {
      for (int i = from; i < to; i++) {
        float s = y[yOff + i];
        dx[dxOff + i] = dout[dOff + i] * s * (1f - s);
      }
    });
  }

  /**
   * {@code out = tanh(x)} in double, rounded once: {@code Math.exp} is a JIT intrinsic while {@code
   * Math.tanh} runs fdlibm's code (measured 6-10x slower over a batch). For |x| >= 1/16, {@code 1 -
   * 2 / (exp(2|x|) + 1)} (exp's overflow for |x| > 355 gives exactly 1); below, where that form
   * cancels, the odd Taylor series to x^9 (relative error under 1e-11 there). Both are computed and
   * one selected, so no branch depends on the data; the sign is copied back (tanh(-0) is -0).
   */
  public static void tanhForward(float[] out, int outOff, float[] x, int xOff, int n) {
    Parallel.forRange(n, TRANSCENDENTAL * n, (part, from, to) -> {
      for (int i = from; i < to; i++) {
        out[outOff + i] = (float) tanh(x[xOff + i]);
      }
    });
  }

  /** {@code dx = dout * (1 - y^2)}, where {@code y} is the tanh's output. */
  public static void tanhBackward(float[] dx, int dxOff, float[] dout, int dOff, float[] y, int yOff, int n) {
    Parallel.forRange(n, n, (part, from, to) -> {
      for (int i = from; i < to; i++) {
        float t = y[yOff + i];
        dx[dxOff + i] = dout[dOff + i] * (1f - t * t);
      }
    });
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

  /**
   * {@code out = exp(x - max) / sum(exp(x - max))} along the middle dimension of {@code [outer, size,
   * inner]}, as PyTorch computes it: one exp per element (kept in {@code out} while the sum, in
   * double, runs), then one multiplication by the sum's inverse (two roundings: within an ulp of the
   * exactly rounded value). A row of only -infinity gives NaN, as PyTorch's.
   */
  public static void softmaxForward(float[] out, int outOff, float[] x, int xOff, int outer, int size, int inner) {
    alongRows(outer, size, inner, TRANSCENDENTAL, first -> {
      float max = Float.NEGATIVE_INFINITY;
      for (int k = 0; k < size; k++) {
        max = Math.max(max, x[xOff + first + k * inner]);
      }
      double sum = 0;
      for (int k = 0; k < size; k++) {
        int at = first + k * inner;
        float e = (float) Math.exp(x[xOff + at] - max);
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

  /** {@code dx = y * (dout - sum(dout * y))}, sums along the softmax dimension; {@code y} is the softmax's output. */
  public static void softmaxBackward(
      float[] dx, int dxOff, float[] dout, int dOff, float[] y, int yOff, int outer, int size, int inner) {
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

  /** {@code dx = dout - exp(y) * sum(dout)}, sums along the dimension; {@code y} is the log-softmax's output. */
  public static void logSoftmaxBackward(
      float[] dx, int dxOff, float[] dout, int dOff, float[] y, int yOff, int outer, int size, int inner) {
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

  /** {@code log(sum_k exp(x[from + k*stride]))}, shifted by the maximum so that large values do not overflow. */
  private static double logSumExp(float[] x, int from, int size, int stride) {
    float max = Float.NEGATIVE_INFINITY;
    for (int k = 0; k < size; k++) {
      max = Math.max(max, x[from + k * stride]);
    }
    double sum = 0;
    for (int k = 0; k < size; k++) {
      sum += Math.exp(x[from + k * stride] - max);
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
   */
  public static void dropoutMask(float[] mask, int maskOff, int n, double p, Generator rng) {
    float keep = keepScale(p);
    long start = rng.reserve(n);
    Parallel.forRange(n, 8L * n, (part, from, to) -> {
      for (int i = from; i < to; i++) {
        mask[maskOff + i] = Generator.doubleAt(start, i) < p ? 0f : keep;
      }
    });
  }

  /**
   * {@code 1 / (1 - p)} in float, as PyTorch computes it ({@code noise.div_(1 - p)}: 1 over the float
   * {@code 1 - p}; dividing in double and rounding once differs by an ulp for some p): what dropout
   * scales the kept entries by (infinite for p = 1, but then nothing is kept).
   */
  public static float keepScale(double p) {
    return 1f / (float) (1.0 - p);
  }

  /** {@code out = x * mask}: dropout's forward (x the input) and its backward (x the output gradient). */
  public static void applyMask(float[] out, int outOff, float[] x, int xOff, float[] mask, int maskOff, int n) {
    Parallel.forRange(n, n, (part, from, to) -> {
      for (int i = from; i < to; i++) {
        out[outOff + i] = x[xOff + i] * mask[maskOff + i];
      }
    });
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
