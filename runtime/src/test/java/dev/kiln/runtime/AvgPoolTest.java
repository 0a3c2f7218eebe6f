package dev.kiln.runtime;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.function.Function;
import org.junit.jupiter.api.Test;

/**
 * Average pooling against PyTorch 1.13's values (printed by F.avg_pool2d and F.adaptive_avg_pool2d
 * on the same input and output gradient: x = sin(0.37 i - 3) over [1, 1, 5, 7], g = cos(j)), in
 * the cases where the divisor is subtle: ceil mode with padding (counted or not), windows cut at
 * the input's end, adaptive windows that overlap and outputs larger than the input.
 */
class AvgPoolTest {
  private static Tensor input() {
    float[] x = new float[35];
    for (int i = 0; i < x.length; i++) {
      x[i] = (float) Math.sin((float) (i * 0.37f - 3.0f));
    }
    return Tensor.of(x, 1, 1, 5, 7).requiresGrad(true);
  }

  private static void check(Function<Tensor, Tensor> f, int[] shape, float[] out, float[] dx) {
    Tensor x = input();
    Tensor y = f.apply(x);
    assertArrayEquals(shape, y.shape());
    assertArrayEquals(out, y.toFloatArray(), 2e-7f);
    float[] g = new float[y.numel()];
    for (int j = 0; j < g.length; j++) {
      g[j] = (float) Math.cos(j);
    }
    y.backward(Tensor.of(g, y.shape()));
    assertArrayEquals(dx, x.grad().toFloatArray(), 2e-7f);
  }

  @Test
  void ceilModeWithPaddingCountedInTheDivisor() {
    check(x -> Ops.avgPool2d(x, 3, 2, 1, true, true), new int[] {1, 1, 3, 4},
        new float[] {-0.11880945f, -0.14250369f, -0.038675871f, 0.03854911f, -0.107679f, -0.049205769f, 0.11093344f,
            0.13502353f, -0.0039470526f, 0.086407967f, 0.16514254f, 0.1153809f},
        new float[] {0.11111111f, 0.17114471f, 0.060033593f, 0.013795055f, -0.046238538f, -0.15623771f, -0.10999916f,
            0.038484044f, 0.13003567f, 0.091551617f, 0.15199867f, 0.060447048f, 0.034214795f, -0.02623225f, -0.072627068f,
            -0.041109044f, 0.031518023f, 0.13820361f, 0.10668559f, 0.1904525f, 0.083766915f, -0.08879374f, -0.15851241f,
            -0.069718674f, -0.056263253f, 0.013455421f, 0.097714081f, 0.084258661f, -0.01616667f, -0.11740337f,
            -0.10123669f, -0.19446686f, -0.093230166f, -0.09273842f, 0.0004917442f});
  }

  @Test
  void ceilModeWithPaddingLeftOutOfTheDivisor() {
    check(x -> Ops.avgPool2d(x, 3, 2, 1, true, false), new int[] {1, 1, 3, 4},
        new float[] {-0.26732126f, -0.21375555f, -0.058013808f, 0.086735502f, -0.1615185f, -0.049205769f, 0.11093344f,
            0.20253529f, -0.0088808686f, 0.12961195f, 0.2477138f, 0.25960702f},
        new float[] {0.25f, 0.3400504f, 0.090050392f, 0.020692587f, -0.069357805f, -0.31685594f, -0.24749812f,
            0.1410594f, 0.26262781f, 0.12156841f, 0.15889619f, 0.037327781f, -0.084519982f, -0.12184775f, -0.1089406f,
            -0.077422574f, 0.031518023f, 0.13820361f, 0.10668559f, 0.23233595f, 0.12565038f, -0.14531562f,
            -0.26565263f, -0.12033701f, -0.15349668f, -0.033159666f, 0.093597129f, 0.1267568f, -0.036375009f,
            -0.18823004f, -0.15185504f, -0.2917003f, -0.13984525f, -0.13873883f, 0.0011064245f});
  }

  @Test
  void aPlainWindowLeavesTheLastRowAndColumnOut() {
    check(x -> Ops.avgPool2d(x, 2, 2, 0, false, true), new int[] {1, 1, 2, 3},
        new float[] {-0.26732126f, -0.1882444f, -0.010703787f, -0.13262813f, -0.25471202f, -0.24356562f},
        new float[] {0.25f, 0.25f, 0.13507558f, 0.13507558f, -0.10403671f, -0.10403671f, 0f, 0.25f, 0.25f, 0.13507558f,
            0.13507558f, -0.10403671f, -0.10403671f, 0f, -0.24749812f, -0.24749812f, -0.1634109f, -0.1634109f,
            0.07091555f, 0.07091555f, 0f, -0.24749812f, -0.24749812f, -0.1634109f, -0.1634109f, 0.07091555f,
            0.07091555f, 0f, 0f, 0f, 0f, 0f, 0f, 0f, 0f});
  }

  @Test
  void adaptiveWindowsOverlap() {
    check(x -> Ops.adaptiveAvgPool2d(x, 3, 4), new int[] {1, 1, 3, 4},
        new float[] {-0.26732126f, -0.21375555f, -0.058013808f, 0.086735502f, -0.1615185f, -0.049205769f, 0.11093343f,
            0.20253529f, -0.0088808686f, 0.12961195f, 0.2477138f, 0.25960702f},
        new float[] {0.25f, 0.3400504f, 0.090050392f, 0.020692587f, -0.069357805f, -0.31685594f, -0.24749812f,
            0.1410594f, 0.26262781f, 0.12156841f, 0.15889619f, 0.037327781f, -0.084519982f, -0.12184775f, -0.1089406f,
            -0.077422574f, 0.031518023f, 0.13820361f, 0.10668559f, 0.23233595f, 0.12565038f, -0.14531562f,
            -0.26565263f, -0.12033701f, -0.15349668f, -0.033159666f, 0.093597129f, 0.1267568f, -0.036375009f,
            -0.18823004f, -0.15185504f, -0.2917003f, -0.13984525f, -0.13873883f, 0.0011064245f});
  }

  @Test
  void adaptiveOutputsLargerThanTheInputRepeatIt() {
    Tensor x = input();
    Tensor y = Ops.adaptiveAvgPool2d(x, 7, 9);
    assertArrayEquals(new int[] {1, 1, 7, 9}, y.shape());
    float[] v = y.toFloatArray();
    assertArrayEquals(new float[] {-0.14112f, -0.31534326f, -0.63065958f, -0.86061913f, -0.9494856f, -0.97409785f,
        -0.95573705f, -0.80802166f, -0.70327938f}, java.util.Arrays.copyOf(v, 9), 2e-7f);
    assertArrayEquals(new float[] {0.88045228f, 0.93638825f, 0.98110694f, 0.8930375f, 0.8161853f, 0.68409967f,
        0.38257229f, 0.02926553f, -0.1545994f}, java.util.Arrays.copyOfRange(v, 54, 63), 2e-7f);
  }

  @Test
  void globalAveragePoolingIsTheMeanOfEachPlane() {
    Tensor x = Tensor.randn(2, 3, 4, 5);
    float[] y = Ops.adaptiveAvgPool2d(x, 1, 1).toFloatArray();
    float[] mean = x.reshape(6, 20).mean(1).toFloatArray();
    assertArrayEquals(mean, y, 1e-6f);
    assertArrayEquals(new int[] {3, 1, 1}, Ops.adaptiveAvgPool2d(Tensor.randn(3, 4, 5), 1, 1).shape()); // one sample
  }

  @Test
  void globalPoolingOfALargeMapIsAsExactAsAMeanInDouble() {
    int h = 224;
    float[] v = new float[h * h];
    java.util.Random r = new java.util.Random(1);
    double exact = 0;
    for (int i = 0; i < v.length; i++) {
      v[i] = 10f + (float) r.nextGaussian();
      exact += v[i];
    }
    exact /= v.length;
    float y = Ops.adaptiveAvgPool2d(Tensor.of(v, 1, 1, h, h), 1, 1).item();
    assertTrue(Math.abs(y - exact) <= Math.ulp((float) exact), y + " vs " + exact); // a float sum was 2e-6 off
  }

  @Test
  void anAdaptiveSizeOfZeroGivesAnEmptyOutputAsPyTorch() {
    Tensor x = Tensor.randn(2, 4, 4).requiresGrad(true);
    Tensor y = Ops.adaptiveAvgPool2d(x, 0, 3);
    assertArrayEquals(new int[] {2, 0, 3}, y.shape());
    y.sum().backward();
    assertArrayEquals(new float[32], x.grad().toFloatArray());
  }

  @Test
  void badWindowsAndShapesAreNamed() {
    var one = assertThrows(IllegalArgumentException.class, () -> Ops.avgPool2d(Tensor.randn(3, 2, 2), 5, 5, 0, false, true));
    assertTrue(one.getMessage().startsWith("avg_pool2d: input [3, 2, 2]: the 5x5 window is larger"), one.getMessage()); // the sample's own shape
    var max = assertThrows(IllegalArgumentException.class, () -> Ops.maxPool2d(Tensor.randn(3, 2, 2), 5, 5, 5, 5, 0, 0, false));
    assertTrue(max.getMessage().startsWith("max_pool2d: input [3, 2, 2]: the 5x5 window is larger"), max.getMessage());
    var wide = assertThrows(IllegalArgumentException.class, () -> Ops.avgPool2d(Tensor.zeros(1, 1, 4, 4), 2, 2, 2, false, true));
    assertTrue(wide.getMessage().startsWith("avg_pool2d: input [1, 1, 4, 4]: padding (2, 2) must be at most half"), wide.getMessage());
    var flat = assertThrows(IllegalArgumentException.class, () -> Ops.adaptiveAvgPool2d(Tensor.zeros(4, 4), 1, 1));
    assertTrue(flat.getMessage().contains("adaptive_avg_pool2d: input must be [N, C, H, W]"), flat.getMessage());
    var negative = assertThrows(IllegalArgumentException.class, () -> Ops.adaptiveAvgPool2d(Tensor.zeros(1, 1, 4, 4), -1, 1));
    assertTrue(negative.getMessage().contains("output size -1x1 not negative"), negative.getMessage());
  }
}
