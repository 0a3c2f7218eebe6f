package dev.kiln.runtime;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** Every op's backward against central finite differences (tolerances stated per check). */
class OpsGradientTest {
  private static final double EPS = 1e-2;
  private static final double ATOL = 2e-3;
  private static final double RTOL = 2e-3;

  @BeforeEach
  void seed() {
    Kiln.manualSeed(42);
  }

  private static Tensor param(int... shape) {
    return Tensor.randn(shape).requiresGrad(true);
  }

  @Test
  void matmul() {
    GradCheck.check("matmul", in -> Ops.matmul(in[0], in[1]), EPS, ATOL, RTOL, param(3, 5), param(5, 4));
  }

  @Test
  void linearWithAndWithoutBias() {
    GradCheck.check("linear", in -> Ops.linear(in[0], in[1], in[2]), EPS, ATOL, RTOL, param(4, 6), param(3, 6), param(3));
    GradCheck.check("linear no bias", in -> Ops.linear(in[0], in[1], null), EPS, ATOL, RTOL, param(4, 6), param(3, 6));
  }

  @Test
  void linearOnlyWeightNeedsGrad() {
    Tensor x = Tensor.randn(4, 6);
    GradCheck.check("linear x const", in -> Ops.linear(in[0], in[1], in[2]), EPS, ATOL, RTOL, x, param(3, 6), param(3));
    assertEquals(null, x.grad());
  }

  @Test
  void addSameShapeAndBroadcastRow() {
    GradCheck.check("add", in -> Ops.add(in[0], in[1]), EPS, ATOL, RTOL, param(3, 4), param(3, 4));
    GradCheck.check("add row", in -> Ops.add(in[0], in[1]), EPS, ATOL, RTOL, param(2, 3, 4), param(4));
  }

  @Test
  void mulSameShapeAndBroadcastRow() {
    GradCheck.check("mul", in -> Ops.mul(in[0], in[1]), EPS, ATOL, RTOL, param(3, 4), param(3, 4));
    GradCheck.check("mul row", in -> Ops.mul(in[0], in[1]), EPS, ATOL, RTOL, param(5, 4), param(4));
  }

  @Test
  void scale() {
    GradCheck.check("scale", in -> Ops.scale(in[0], -2.5f), EPS, ATOL, RTOL, param(7));
  }

  /** {@code x + 1} (the tutorial's {@code output = input + 1}) and {@code x - c}, on any shape, 0-d included. */
  @Test
  void addAndSubtractAConstant() {
    GradCheck.check("shift", in -> Ops.mul(Ops.shift(in[0], 1.5f), in[0]), EPS, ATOL, RTOL, param(2, 3, 4));
    Tensor x = Tensor.of(new float[] {1, -2, 3.5f, 0}, 2, 2);
    assertArrayEquals(new float[] {2, -1, 4.5f, 1}, x.add(1).toFloatArray());
    assertArrayEquals(new int[] {2, 2}, x.add(1).shape());
    assertArrayEquals(new float[] {0.75f, -2.25f, 3.25f, -0.25f}, x.sub(0.25f).toFloatArray());
    assertEquals(4f, Tensor.scalar(3).add(1).item());
    assertEquals(0, Tensor.scalar(3).add(1).shape().length);
    assertEquals(DType.INT32, Tensor.labels(1, 2).add(1).dtype()); // ids + 1: ids (IdArithmeticTest)
    var e = assertThrows(IllegalArgumentException.class, () -> Tensor.labels(1 << 24).add(1));
    assertTrue(e.getMessage().startsWith("add"), e.getMessage());
  }

  @Test
  void relu() {
    Tensor x = GradCheck.awayFromZero(0.05f, 4, 5).requiresGrad(true);
    GradCheck.check("relu", in -> Ops.relu(in[0]), EPS, ATOL, RTOL, x);
  }

  @Test
  void reshapeAndFlatten() {
    GradCheck.check("reshape", in -> Ops.matmul(in[0].reshape(3, -1), in[1]), EPS, ATOL, RTOL, param(3, 2, 2), param(4, 2));
    GradCheck.check("flatten", in -> Ops.relu(in[0].flatten(1, -1)), EPS, ATOL, RTOL,
        GradCheck.awayFromZero(0.05f, 2, 3, 2).requiresGrad(true));
  }

  @Test
  void sumAndMean() {
    GradCheck.check("sum", in -> Ops.sum(in[0]), EPS, ATOL, RTOL, param(3, 3));
    GradCheck.check("mean", in -> Ops.mean(in[0]), EPS, ATOL, RTOL, param(3, 3));
  }

  @Test
  void crossEntropyMeanSumAndPerSample() {
    Tensor target = Tensor.labels(2, 0, 4, 1);
    GradCheck.check("ce mean", in -> Ops.crossEntropy(in[0], target, true), EPS, ATOL, RTOL, param(4, 5));
    GradCheck.check("ce sum", in -> Ops.crossEntropy(in[0], target, false), EPS, ATOL, RTOL, param(4, 5));
    GradCheck.check("ce none", in -> Ops.crossEntropyPerSample(in[0], target), EPS, ATOL, RTOL, param(4, 5));
  }

  @Test
  void crossEntropyValueMatchesLogSoftmaxByHand() {
    // logits [1, 2, 3], target 2: -log(e^3 / (e + e^2 + e^3)) = log(1 + e^-1 + e^-2) = 0.40760596
    Tensor loss = Ops.crossEntropy(Tensor.of(new float[] {1, 2, 3}, 1, 3), Tensor.labels(2), true);
    assertEquals(0.40760596f, loss.item(), 1e-6f);
    // Large logits must not overflow: log-sum-exp subtracts the row maximum.
    Tensor big = Ops.crossEntropy(Tensor.of(new float[] {1000, 0}, 1, 2), Tensor.labels(1), true);
    assertEquals(1000f, big.item(), 1e-3f);
  }

  @Test
  void composedNetworkGradient() {
    Tensor x = Tensor.randn(5, 6);
    Tensor target = Tensor.labels(0, 1, 2, 1, 0);
    GradCheck.check("mlp",
        in -> Ops.crossEntropy(Ops.linear(Ops.relu(Ops.linear(x, in[0], in[1])), in[2], in[3]), target, true),
        1e-2, 2e-3, 5e-3, param(7, 6), param(7), param(3, 7), param(3));
  }

  @Test
  void gradientsAccumulateUntilCleared() {
    Tensor w = Tensor.of(new float[] {1, 2}, 2).requiresGrad(true);
    Ops.sum(Ops.scale(w, 3f)).backward();
    Ops.sum(Ops.scale(w, 3f)).backward();
    assertArrayEquals(new float[] {6, 6}, w.grad().toFloatArray());
    w.setGrad(null);
    Ops.sum(w).backward();
    assertArrayEquals(new float[] {1, 1}, w.grad().toFloatArray());
  }

  @Test
  void tensorUsedTwiceSumsBothPaths() {
    Tensor w = Tensor.of(new float[] {3}, 1).requiresGrad(true);
    Ops.sum(Ops.mul(w, w)).backward(); // d(w^2)/dw = 2w = 6
    assertArrayEquals(new float[] {6}, w.grad().toFloatArray());
  }

  @Test
  void noGradRecordsNothingAndRestores() {
    Tensor w = param(2, 2);
    Tensor y;
    try (var g = Kiln.noGrad()) {
      try (var inner = Kiln.noGrad()) {
        assertTrue(!Kiln.isGradEnabled());
      }
      assertTrue(!Kiln.isGradEnabled());
      y = Ops.relu(w);
    }
    assertTrue(Kiln.isGradEnabled());
    assertTrue(!y.requiresGrad());
    assertThrows(IllegalStateException.class, () -> Ops.sum(y).backward());
    assertTrue(Ops.relu(w).requiresGrad());
  }

  @Test
  void shapeErrorsNameBothShapes() {
    var e = assertThrows(IllegalArgumentException.class, () -> Ops.matmul(Tensor.zeros(2, 3), Tensor.zeros(4, 5)));
    assertTrue(e.getMessage().contains("[2, 3]") && e.getMessage().contains("[4, 5]"), e.getMessage());
    e = assertThrows(IllegalArgumentException.class, () -> Ops.linear(Tensor.zeros(2, 3), Tensor.zeros(4, 5), null));
    assertTrue(e.getMessage().contains("[2, 3]") && e.getMessage().contains("[4, 5]"), e.getMessage());
    e = assertThrows(IllegalArgumentException.class, () -> Ops.crossEntropy(Tensor.zeros(2, 3), Tensor.labels(0, 3), true));
    assertTrue(e.getMessage().contains("row 1"), e.getMessage());
    e = assertThrows(IllegalArgumentException.class, () -> Ops.crossEntropy(Tensor.zeros(2, 3), Tensor.zeros(2), true));
    assertTrue(e.getMessage().contains("class indices"), e.getMessage());
  }
}
