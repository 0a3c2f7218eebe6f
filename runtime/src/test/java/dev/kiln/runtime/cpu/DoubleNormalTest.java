package dev.kiln.runtime.cpu;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/** The double reference {@link DoubleNormal}: erf and erfc against Python's math.erf/erfc (written from them), across each method's range. */
class DoubleNormalTest {
  private static final double[][] REFERENCE = { // z, erf(z), erfc(|z|)
      {0.0, 0.0, 1.0},
      {1e-08, 1.1283791670955126e-08, 0.9999999887162083},
      {0.2, 0.22270258921047847, 0.7772974107895215},
      {0.5, 0.5204998778130465, 0.4795001221869535},
      {0.5000001, 0.5204999656913, 0.47950003430870003},
      {0.7, 0.6778011938374184, 0.32219880616258156},
      {1.3, 0.9340079449406524, 0.06599205505934755},
      {2.0, 0.9953222650189527, 0.004677734981047265},
      {3.5, 0.9999992569016276, 7.430983723414128e-07},
      {4.0, 0.9999999845827421, 1.541725790028002e-08},
      {4.0000001, 0.9999999845827549, 1.541724520205039e-08}, // the continued fraction's side
      {5.5, 0.9999999999999927, 7.357847917974398e-15},
      {9.0, 1.0, 4.13703174651381e-37},
      {-0.3, -0.3286267594591274, 0.6713732405408726},
      {-2.2, -0.9981371537020182, 0.0018628462979818894},
  };

  @Test
  void agreeWithPythonsToAFewUlps() {
    for (double[] r : REFERENCE) {
      double erf = DoubleNormal.erf(r[0]), erfc = DoubleNormal.erfc(Math.abs(r[0]));
      assertEquals(r[1], erf, 4 * Math.ulp(r[1]) + 1e-300, "erf(" + r[0] + ")");
      assertEquals(r[2], erfc, 8 * Math.ulp(r[2]), "erfc(" + r[0] + ")");
    }
    assertTrue(Double.isNaN(DoubleNormal.erf(Double.NaN)) && Double.isNaN(DoubleNormal.erfc(Double.NaN)));
    assertEquals(1.0, DoubleNormal.erf(Double.POSITIVE_INFINITY));
    assertEquals(0.0, DoubleNormal.erfc(Double.POSITIVE_INFINITY));
    assertEquals(2.0, DoubleNormal.erfc(Double.NEGATIVE_INFINITY));
  }
}
