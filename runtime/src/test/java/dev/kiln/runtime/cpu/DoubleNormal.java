package dev.kiln.runtime.cpu;

/**
 * The standard normal distribution in double, to about 1e-15 relative: the reference the float
 * GELU kernels are tested against. This was the CPU's GELU until the float kernels of the
 * fourteenth session ({@link ActivationKernels#geluForward}); {@code DoubleNormalTest} checks it
 * against Python's {@code math.erf} and {@code math.erfc}.
 */
final class DoubleNormal {
  private DoubleNormal() {}

  /** The normal density {@code exp(-v^2 / 2) / sqrt(2 pi)}. */
  static double density(double v) {
    return Math.exp(-0.5 * v * v) * 0.3989422804014327;
  }

  /** The standard normal CDF, {@code (1 + erf(v / sqrt 2)) / 2}, from {@link #erf} and {@link #erfc} (no cancellation in either tail). */
  static double cdf(double v) {
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
}
