package dev.kiln.runtime;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** Batch normalisation: gradients against finite differences, statistics against hand computations. */
class NormOpsTest {
  private static final double EPS = 1e-2;
  private static final double ATOL = 2e-3;
  private static final double RTOL = 5e-3;
  private static final double BN_EPS = 1e-5;

  @BeforeEach
  void seed() {
    Kiln.manualSeed(42);
  }

  private static Tensor param(int... shape) {
    return Tensor.randn(shape).requiresGrad(true);
  }

  private static Tensor training(Tensor x, Tensor weight, Tensor bias) {
    return Ops.batchNorm(x, null, null, weight, bias, true, 0.1, BN_EPS);
  }

  /** Layer norm's fused kernels: gradients against finite differences, with and without an affine transform, over one or two dimensions. */
  @Test
  void layerNormGradientsMatchFiniteDifferences() {
    GradCheck.check("layer_norm [4, 5] over 5", in -> Ops.layerNorm(in[0], new int[] {5}, in[1], in[2], 1e-5), EPS, ATOL, RTOL,
        param(4, 5), param(5), param(5));
    GradCheck.check("layer_norm [2, 3, 2, 3] over [2, 3]", in -> Ops.layerNorm(in[0], new int[] {2, 3}, in[1], in[2], 1e-3), EPS, ATOL,
        RTOL, param(2, 3, 2, 3), param(2, 3), param(2, 3));
    GradCheck.check("layer_norm without affine", in -> Ops.layerNorm(in[0], new int[] {6}, null, null, 1e-5), EPS, ATOL, RTOL,
        param(3, 6));
  }

  @Test
  void layerNormRefusesShapesThatDoNotFit() {
    var e = assertThrows(IllegalArgumentException.class, () -> Ops.layerNorm(Tensor.zeros(2, 5), new int[] {4}, null, null, 1e-5));
    assertEquals("layer_norm: input [2, 5] does not end with normalized_shape [4]", e.getMessage());
    e = assertThrows(IllegalArgumentException.class,
        () -> Ops.layerNorm(Tensor.zeros(2, 4), new int[] {4}, Tensor.ones(4), Tensor.zeros(3), 1e-5));
    assertEquals("layer_norm: bias [3] must have normalized_shape [4]", e.getMessage());
  }

  @Test
  void trainingGradientFlowsThroughTheBatchStatistics() {
    GradCheck.check("bn1d train", in -> training(in[0], in[1], in[2]), EPS, ATOL, RTOL, param(6, 3), param(3), param(3));
    GradCheck.check("bn1d [N, C, L] train", in -> training(in[0], in[1], in[2]), EPS, ATOL, RTOL, param(3, 2, 4), param(2), param(2));
    GradCheck.check("bn2d train", in -> training(in[0], in[1], in[2]), EPS, ATOL, RTOL, param(2, 3, 2, 3), param(3), param(3));
    GradCheck.check("bn train, no affine", in -> training(in[0], null, null), EPS, ATOL, RTOL, param(4, 3, 2));
  }

  @Test
  void trainingGradientUpdatesRunningStatisticsHarmlessly() {
    Tensor mean = Tensor.zeros(3), var = Tensor.ones(3);
    GradCheck.check("bn train with running stats",
        in -> Ops.batchNorm(in[0], mean, var, in[1], in[2], true, 0.1, BN_EPS), EPS, ATOL, RTOL, param(5, 3), param(3), param(3));
  }

  @Test
  void evalGradientUsesFixedRunningStatistics() {
    Tensor mean = Tensor.of(new float[] {0.5f, -1f, 0f});
    Tensor var = Tensor.of(new float[] {2f, 0.5f, 1f});
    GradCheck.check("bn eval", in -> Ops.batchNorm(in[0], mean, var, in[1], in[2], false, 0.1, BN_EPS),
        EPS, ATOL, RTOL, param(2, 3, 2, 2), param(3), param(3));
    GradCheck.check("bn eval, no affine", in -> Ops.batchNorm(in[0], mean, var, null, null, false, 0.1, BN_EPS),
        EPS, ATOL, RTOL, param(4, 3));
    assertArrayEquals(new float[] {0.5f, -1f, 0f}, mean.toFloatArray(), "evaluation leaves the running mean");
  }

  @Test
  void trainingOutputHasZeroMeanAndUnitBiasedVariancePerChannel() {
    Tensor x = Tensor.randn(4, 2, 3, 3);
    float[] y = training(x, null, null).toFloatArray();
    for (int c = 0; c < 2; c++) {
      double sum = 0, squares = 0;
      for (int i = 0; i < 4; i++) {
        for (int j = 0; j < 9; j++) {
          double v = y[(i * 2 + c) * 9 + j];
          sum += v;
          squares += v * v;
        }
      }
      assertEquals(0, sum / 36, 1e-5, "channel " + c + " mean");
      assertEquals(1, squares / 36, 1e-3, "channel " + c + " biased variance");
    }
  }

  @Test
  void runningStatisticsAfterTwoBatchesUseTheUnbiasedVariance() {
    Tensor runningMean = Tensor.zeros(2), runningVar = Tensor.ones(2);
    // Batch 1, channel 0: 1, 2, 3, 6 -> mean 3, sum of squares 14, unbiased var 14/3.
    //          channel 1: 0, 0, 4, 4 -> mean 2, sum of squares 16, unbiased var 16/3.
    Tensor b1 = Tensor.of(new float[] {1, 0, 2, 0, 3, 4, 6, 4}, 4, 2);
    // Batch 2, channel 0: 2, 4 -> mean 3, unbiased var 2; channel 1: -1, 1 -> mean 0, unbiased var 2.
    Tensor b2 = Tensor.of(new float[] {2, -1, 4, 1}, 2, 2);
    Ops.batchNorm(b1, runningMean, runningVar, null, null, true, 0.1, BN_EPS);
    assertArrayEquals(new float[] {0.9f * 0 + 0.1f * 3, 0.9f * 0 + 0.1f * 2}, runningMean.toFloatArray(), 1e-6f);
    assertArrayEquals(new float[] {0.9f + 0.1f * 14 / 3, 0.9f + 0.1f * 16 / 3}, runningVar.toFloatArray(), 1e-6f);
    Ops.batchNorm(b2, runningMean, runningVar, null, null, true, 0.1, BN_EPS);
    assertArrayEquals(new float[] {0.9f * 0.3f + 0.1f * 3, 0.9f * 0.2f + 0.1f * 0}, runningMean.toFloatArray(), 1e-6f);
    assertArrayEquals(new float[] {0.9f * (0.9f + 0.1f * 14 / 3) + 0.1f * 2, 0.9f * (0.9f + 0.1f * 16 / 3) + 0.1f * 2},
        runningVar.toFloatArray(), 1e-6f);
  }

  @Test
  void runningStatisticsCountEveryPositionOfAChannel() {
    // [N=1, C=1, L=4]: 4 values per channel, mean 2.5, unbiased var 5/3; momentum 1 copies them.
    Tensor runningMean = Tensor.zeros(1), runningVar = Tensor.ones(1);
    Ops.batchNorm(Tensor.of(new float[] {1, 2, 3, 4}, 1, 1, 4), runningMean, runningVar, null, null, true, 1.0, BN_EPS);
    assertEquals(2.5f, runningMean.get(0), 1e-6f);
    assertEquals(5f / 3, runningVar.get(0), 1e-6f);
  }

  @Test
  void evalNormalisesWithTheRunningStatistics() {
    Tensor mean = Tensor.of(new float[] {1f, -2f});
    Tensor var = Tensor.of(new float[] {4f, 0.25f});
    Tensor weight = Tensor.of(new float[] {2f, 3f});
    Tensor bias = Tensor.of(new float[] {0.5f, -1f});
    Tensor x = Tensor.of(new float[] {3f, -1f, 1f, -2.5f}, 2, 2);
    float[] y = Ops.batchNorm(x, mean, var, weight, bias, false, 0.1, BN_EPS).toFloatArray();
    double s0 = 1 / Math.sqrt(4 + BN_EPS), s1 = 1 / Math.sqrt(0.25 + BN_EPS);
    assertArrayEquals(new float[] {
        (float) ((3 - 1) * s0 * 2 + 0.5), (float) ((-1 + 2) * s1 * 3 - 1),
        (float) ((1 - 1) * s0 * 2 + 0.5), (float) ((-2.5 + 2) * s1 * 3 - 1)}, y, 1e-5f);
    assertArrayEquals(new float[] {1f, -2f}, mean.toFloatArray());
    assertArrayEquals(new float[] {4f, 0.25f}, var.toFloatArray());
  }

  @Test
  void trainingWithOneValuePerChannelFailsLikePyTorch() {
    var e = assertThrows(IllegalArgumentException.class, () -> training(Tensor.randn(1, 512), null, null));
    assertEquals("Expected more than 1 value per channel when training, got input size [1, 512]", e.getMessage());
    e = assertThrows(IllegalArgumentException.class, () -> training(Tensor.randn(1, 3, 1, 1), null, null));
    assertEquals("Expected more than 1 value per channel when training, got input size [1, 3, 1, 1]", e.getMessage());
    // Evaluation normalises a single sample with the running statistics.
    assertArrayEquals(new int[] {1, 512},
        Ops.batchNorm(Tensor.randn(1, 512), Tensor.zeros(512), Tensor.ones(512), null, null, false, 0.1, BN_EPS).shape());
    // One sample with several positions per channel is enough to train.
    assertArrayEquals(new int[] {1, 3, 2, 2}, training(Tensor.randn(1, 3, 2, 2), null, null).shape());
  }

  /**
   * The fused kernels against the plain ones: BN+ReLU forward equals max(0, BN); its backward,
   * which recomputes the ReLU's mask from x, equals the plain backward of the masked gradient, bit
   * for bit (same operations), for training and evaluation, with and without the affine transform.
   * Large enough ({@code 64 x 8 x 49}) to be split over the CPU threads.
   */
  @Test
  void fusedBatchNormReluMatchesBatchNormThenRelu() {
    int n = 64, c = 8, l = 49, size = n * c * l;
    float[] x = Tensor.randn(n, c, l).toFloatArray();
    float[] g = Tensor.randn(n, c, l).toFloatArray();
    float[] weight = Tensor.randn(c).toFloatArray();
    float[] bias = Tensor.randn(c).toFloatArray();
    float[] mean = new float[c], var = new float[c];
    dev.kiln.runtime.cpu.NormKernels.batchStatistics(mean, 0, var, 0, x, 0, n, c, l);
    for (boolean affine : new boolean[] {true, false}) {
      float[] w = affine ? weight : null, b = affine ? bias : null;
      float[] plain = new float[size], fused = new float[size];
      dev.kiln.runtime.cpu.NormKernels.batchNormForward(plain, 0, x, 0, mean, 0, var, 0, w, 0, b, 0, n, c, l, BN_EPS);
      dev.kiln.runtime.cpu.NormKernels.batchNormReluForward(fused, 0, x, 0, mean, 0, var, 0, w, 0, b, 0, n, c, l, BN_EPS);
      float[] masked = new float[size];
      int positives = 0;
      for (int i = 0; i < size; i++) {
        assertEquals(Math.max(plain[i], 0f), fused[i], 0f, "forward at " + i);
        masked[i] = fused[i] > 0 ? g[i] : 0f;
        positives += fused[i] > 0 ? 1 : 0;
      }
      assertTrue(positives > size / 4 && positives < 3 * size / 4, "the ReLU masks a fair share: " + positives);
      for (boolean train : new boolean[] {true, false}) {
        String what = (affine ? "affine" : "no affine") + (train ? ", training" : ", evaluation");
        float[] dxPlain = new float[size], dwPlain = new float[c], dbPlain = new float[c];
        float[] dxFused = new float[size], dwFused = new float[c], dbFused = new float[c];
        dev.kiln.runtime.cpu.NormKernels.batchNormBackward(dxPlain, 0, dwPlain, 0, dbPlain, 0, masked, 0, x, 0, mean, 0, var, 0,
            w, 0, n, c, l, BN_EPS, train);
        dev.kiln.runtime.cpu.NormKernels.batchNormReluBackward(dxFused, 0, dwFused, 0, dbFused, 0, g, 0, x, 0, mean, 0, var, 0,
            w, 0, b, 0, n, c, l, BN_EPS, train);
        assertArrayEquals(dxPlain, dxFused, 0f, what + ": dx");
        assertArrayEquals(dwPlain, dwFused, 0f, what + ": dweight");
        assertArrayEquals(dbPlain, dbFused, 0f, what + ": dbias");
      }
    }
  }

  /** BN+ReLU+2x2 pooling in one pass equals the two kernels in a row, outputs and argmax (ties too), bit for bit. */
  @Test
  void batchNormReluPoolingInOnePassMatchesTheKernelsInARow() {
    int n = 16, c = 6, h = 10, w = 8;
    float[] x = Tensor.randn(n, c, h, w).toFloatArray();
    for (int i = 0; i < x.length; i += 3) {
      x[i] = i % 2 == 0 ? -5f : 0.25f; // flat regions: ties between zeros, and between equal positive values
    }
    float[] weight = Tensor.randn(c).toFloatArray();
    float[] bias = Tensor.randn(c).toFloatArray();
    float[] mean = new float[c], var = new float[c];
    dev.kiln.runtime.cpu.NormKernels.batchStatistics(mean, 0, var, 0, x, 0, n, c, h * w);
    var pool = new dev.kiln.runtime.cpu.Pool2dShape(n, c, h, w, 2, 2, 2, 2, 0, 0, false);
    int outSize = n * c * (h / 2) * (w / 2);
    float[] y = new float[x.length], expected = new float[outSize], actual = new float[outSize];
    int[] expectedArgmax = new int[outSize], actualArgmax = new int[outSize];
    dev.kiln.runtime.cpu.NormKernels.batchNormReluForward(y, 0, x, 0, mean, 0, var, 0, weight, 0, bias, 0, n, c, h * w, BN_EPS);
    dev.kiln.runtime.cpu.ConvKernels.maxPool2dForward(expected, 0, expectedArgmax, y, 0, pool);
    dev.kiln.runtime.cpu.NormKernels.batchNormReluMaxPool2x2(actual, 0, actualArgmax, x, 0, mean, 0, var, 0, weight, 0, bias, 0,
        BN_EPS, pool);
    assertArrayEquals(expected, actual, 0f);
    assertArrayEquals(expectedArgmax, actualArgmax);
    var threeByThree = new dev.kiln.runtime.cpu.Pool2dShape(n, c, h, w, 3, 3, 2, 2, 0, 0, false);
    var e = assertThrows(IllegalArgumentException.class, () -> dev.kiln.runtime.cpu.NormKernels.batchNormReluMaxPool2x2(
        actual, 0, actualArgmax, x, 0, mean, 0, var, 0, weight, 0, bias, 0, BN_EPS, threeByThree));
    assertTrue(e.getMessage().contains("2x2 windows"), e.getMessage());
  }

  /** Statistics stay accurate when the mean is large against the spread (the one-pass form shifts by a sample). */
  @Test
  void statisticsOfValuesFarFromZero() {
    int n = 8, c = 3, l = 40;
    float[] x = Tensor.randn(n, c, l).toFloatArray();
    for (int i = 0; i < x.length; i++) {
      x[i] = 1000f + (i / l % c) * 250f + 0.01f * x[i];
    }
    float[] mean = new float[c], var = new float[c];
    dev.kiln.runtime.cpu.NormKernels.batchStatistics(mean, 0, var, 0, x, 0, n, c, l);
    for (int ch = 0; ch < c; ch++) {
      double m = 0, q = 0;
      for (int i = 0; i < n; i++) {
        for (int j = 0; j < l; j++) {
          m += x[(i * c + ch) * l + j];
        }
      }
      m /= n * l;
      for (int i = 0; i < n; i++) {
        for (int j = 0; j < l; j++) {
          double d = x[(i * c + ch) * l + j] - m;
          q += d * d;
        }
      }
      q /= n * l;
      assertEquals(m, mean[ch], 1e-4 * m, "mean of channel " + ch);
      assertEquals(q, var[ch], 1e-3 * q, "variance of channel " + ch + " (about 1e-4 around a mean of 1000+)");
    }
  }

  /**
   * Gradients stay accurate when the mean is large against the spread (x = 1000 +- 0.1): the
   * backward sums g * (x - mean), not g * x less mean * sum(g), which cancelled (the weight
   * gradient was 1.3e-3 off a double computation, PyTorch's float 1.0e-4 to 5.7e-4). Short rows
   * (BatchNorm1d) and long (BatchNorm2d), with and without the fused ReLU.
   */
  @Test
  void gradientsOfValuesFarFromZero() {
    for (int[] shape : new int[][] {{64, 4}, {16, 2, 20, 20}}) {
      int n = shape[0], c = shape[1], l = shape.length == 4 ? shape[2] * shape[3] : 1;
      float[] x = Tensor.randn(shape).toFloatArray();
      for (int i = 0; i < x.length; i++) {
        x[i] = 1000f + 0.1f * x[i];
      }
      float[] g = Tensor.randn(shape).toFloatArray();
      float[] mean = new float[c], var = new float[c];
      dev.kiln.runtime.cpu.NormKernels.batchStatistics(mean, 0, var, 0, x, 0, n, c, l);
      float[] weight = {1.5f, -0.5f, 2f, 1f};
      float[] dx = new float[x.length], dw = new float[c], db = new float[c];
      dev.kiln.runtime.cpu.NormKernels.batchNormBackward(dx, 0, dw, 0, db, 0, g, 0, x, 0, mean, 0, var, 0, weight, 0, n, c, l,
          BN_EPS, true);
      double[] refDx = new double[x.length], refDw = new double[c];
      for (int ch = 0; ch < c; ch++) { // in double: xhat = (x - m) / s, dw = sum(g xhat), dx = w/s (g - mean(g) - xhat mean(g xhat))
        double m = 0, q = 0, sg = 0, sgx = 0;
        for (int i = 0; i < n; i++) {
          for (int j = 0; j < l; j++) {
            m += x[(i * c + ch) * l + j];
          }
        }
        m /= n * l;
        for (int i = 0; i < n; i++) {
          for (int j = 0; j < l; j++) {
            double d = x[(i * c + ch) * l + j] - m;
            q += d * d;
          }
        }
        double sd = Math.sqrt(q / (n * l) + BN_EPS);
        for (int i = 0; i < n; i++) {
          for (int j = 0; j < l; j++) {
            int at = (i * c + ch) * l + j;
            sg += g[at];
            sgx += g[at] * (x[at] - m) / sd;
          }
        }
        refDw[ch] = sgx;
        for (int i = 0; i < n; i++) {
          for (int j = 0; j < l; j++) {
            int at = (i * c + ch) * l + j;
            refDx[at] = weight[ch] / sd * (g[at] - sg / (n * l) - (x[at] - m) / sd * sgx / (n * l));
          }
        }
      }
      String what = java.util.Arrays.toString(shape);
      assertTrue(relativeError(dw, refDw) < 7e-4, what + " weight gradient off by " + relativeError(dw, refDw));
      assertTrue(relativeError(dx, refDx) < 1e-4, what + " input gradient off by " + relativeError(dx, refDx));
    }
  }

  /** An infinite first value gives an infinite mean, as PyTorch's (the shifted sum alone made it NaN). */
  @Test
  void anInfiniteFirstValueGivesAnInfiniteMean() {
    float[] mean = new float[1], var = new float[1];
    dev.kiln.runtime.cpu.NormKernels.batchStatistics(mean, 0, var, 0, new float[] {Float.POSITIVE_INFINITY, 1, 2}, 0, 3, 1, 1);
    assertEquals(Float.POSITIVE_INFINITY, mean[0]);
  }

  private static double relativeError(float[] actual, double[] expected) {
    double d = 0, e = 0;
    for (int i = 0; i < actual.length; i++) {
      d += (actual[i] - expected[i]) * (actual[i] - expected[i]);
      e += expected[i] * expected[i];
    }
    return Math.sqrt(d / e);
  }

  @Test
  void onlyTheWantedGradientsAreComputed() {
    Tensor x = Tensor.randn(4, 3);
    Tensor weight = Tensor.ones(3).requiresGrad(true);
    Tensor bias = Tensor.zeros(3);
    Ops.sum(Ops.mul(training(x, weight, bias), Tensor.randn(4, 3))).backward();
    assertArrayEquals(new int[] {3}, weight.grad().shape());
    assertNull(x.grad());
    assertNull(bias.grad());
  }

  @Test
  void badArgumentsAreNamed() {
    Tensor x = Tensor.zeros(2, 3);
    var e = assertThrows(IllegalArgumentException.class, () -> training(x, Tensor.ones(4), Tensor.zeros(4)));
    assertTrue(e.getMessage().contains("[2, 3]") && e.getMessage().contains("weight has shape [4]"), e.getMessage());
    e = assertThrows(IllegalArgumentException.class,
        () -> Ops.batchNorm(x, Tensor.zeros(3, 1), Tensor.ones(3), null, null, true, 0.1, BN_EPS));
    assertTrue(e.getMessage().contains("[2, 3]") && e.getMessage().contains("running_mean has shape [3, 1]"), e.getMessage());
    e = assertThrows(IllegalArgumentException.class, () -> training(Tensor.zeros(5), null, null));
    assertTrue(e.getMessage().contains("[5]"), e.getMessage());
    e = assertThrows(IllegalArgumentException.class, () -> training(x, Tensor.ones(3), null));
    assertTrue(e.getMessage().contains("weight and bias"), e.getMessage());
    e = assertThrows(IllegalArgumentException.class, () -> Ops.batchNorm(x, Tensor.zeros(3), null, null, null, true, 0.1, BN_EPS));
    assertTrue(e.getMessage().contains("running_mean and running_var"), e.getMessage());
    e = assertThrows(IllegalArgumentException.class, () -> Ops.batchNorm(x, null, null, null, null, false, 0.1, BN_EPS));
    assertTrue(e.getMessage().contains("evaluation"), e.getMessage());
  }
}
