package dev.kiln.runtime;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;

import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Group normalisation ({@link Ops#groupNorm}) on the CPU: values and the gradients of input, weight and bias against
 * PyTorch 1.13's (group_norm/reference.txt, from make_reference.py) and against finite differences; argument checks.
 */
class GroupNormTest {
  static final TorchReference TORCH = new TorchReference("/group_norm/reference.txt");
  private static final double EPS = 1e-2;
  private static final double ATOL = 2e-3;
  private static final double RTOL = 5e-3;

  @BeforeEach
  void seed() {
    Kiln.manualSeed(42);
  }

  private static Tensor param(int... shape) {
    return Tensor.randn(shape).requiresGrad(true);
  }

  /** Runs make_reference.py's case on {@code device}, comparing output and gradients with PyTorch's within 1e-5 + 1e-4 |want|. */
  static void checkAgainstTorch(String name, int groups, double eps, Device device) {
    Tensor x = TORCH.tensor(name, "x").to(device).requiresGrad(true);
    boolean affine = TORCH.has(name, "weight");
    Tensor weight = affine ? TORCH.tensor(name, "weight").to(device).requiresGrad(true) : null;
    Tensor bias = affine ? TORCH.tensor(name, "bias").to(device).requiresGrad(true) : null;
    Tensor out = Ops.groupNorm(x, groups, weight, bias, eps);
    assertArrayEquals(x.shape(), out.shape(), name + ": shape");
    double atol = 1e-5; // far_from_zero (x = 1000 + 0.1 N(0, 1)) too: its reference is float64's (make_reference.py)
    TorchReference.close(name + ": values", TORCH.tensor(name, "out").toFloatArray(), out.toFloatArray(), atol, 1e-4);
    out.mul(TORCH.tensor(name, "w").to(device)).sum().backward();
    TorchReference.close(name + ": dx", TORCH.tensor(name, "dx").toFloatArray(), x.grad().toFloatArray(), 10 * atol, 1e-4);
    if (affine) {
      TorchReference.close(name + ": dweight", TORCH.tensor(name, "dweight").toFloatArray(), weight.grad().toFloatArray(), 1e-4, 1e-4);
      TorchReference.close(name + ": dbias", TORCH.tensor(name, "dbias").toFloatArray(), bias.grad().toFloatArray(), 1e-4, 1e-4);
    }
  }

  /** make_reference.py's cases: name, groups, eps. */
  static final Object[][] CASES = {
      {"rank2", 3, 1e-5}, {"rank3", 2, 1e-5}, {"rank4", 4, 1e-5}, {"rank5", 2, 1e-3}, {"one_group", 1, 1e-5},
      {"instance", 5, 1e-5}, {"no_affine", 2, 1e-5}, {"far_from_zero", 2, 1e-5}, {"long_rows", 2, 1e-5}};

  @Test
  void valuesAndGradientsMatchPyTorch() {
    for (Object[] c : CASES) {
      checkAgainstTorch((String) c[0], (Integer) c[1], (Double) c[2], Device.cpu());
    }
  }

  @Test
  void gradientsMatchFiniteDifferences() {
    GradCheck.check("group_norm [4, 8] in 2", in -> Ops.groupNorm(in[0], 2, in[1], in[2], 1e-5), EPS, ATOL, RTOL,
        param(4, 8), param(8), param(8));
    GradCheck.check("group_norm [2, 4, 2, 3] in 2", in -> Ops.groupNorm(in[0], 2, in[1], in[2], 1e-3), EPS, ATOL, RTOL,
        param(2, 4, 2, 3), param(4), param(4));
    GradCheck.check("group_norm without affine", in -> Ops.groupNorm(in[0], 2, null, null, 1e-5), EPS, ATOL, RTOL, param(3, 4, 5));
    GradCheck.check("group_norm, weight only", in -> Ops.groupNorm(in[0], 1, in[1], null, 1e-5), EPS, ATOL, RTOL,
        param(2, 3, 4), param(3));
    GradCheck.check("group_norm, bias only", in -> Ops.groupNorm(in[0], 3, null, in[1], 1e-5), EPS, ATOL, RTOL,
        param(2, 3, 4), param(3));
  }

  @Test
  void eachSampleAndGroupHasZeroMeanAndUnitVariance() {
    float[] x = Tensor.randn(3, 6, 5).toFloatArray();
    for (int i = 0; i < x.length; i++) {
      x[i] = 3 * x[i] + 2 + (i / 15) % 2; // each group's own mean
    }
    float[] y = Ops.groupNorm(Tensor.of(x, 3, 6, 5), 2, null, null, 1e-5).toFloatArray();
    for (int row = 0; row < 6; row++) { // a sample's group: 3 channels of 5 values, contiguous
      double sum = 0, squares = 0;
      for (int t = 0; t < 15; t++) {
        sum += y[row * 15 + t];
        squares += y[row * 15 + t] * y[row * 15 + t];
      }
      assertEquals(0, sum / 15, 1e-6, "mean of row " + row);
      assertEquals(1, squares / 15, 1e-4, "variance of row " + row);
    }
  }

  @Test
  void onlyTheGradientsAskedForAreComputed() {
    Tensor x = Tensor.randn(2, 4, 3);
    Tensor w = param(4), b = Tensor.zeros(4);
    Ops.groupNorm(x, 2, w, b, 1e-5).sum().backward();
    assertNull(x.grad());
    assertNull(b.grad());
    // d sum(y) / d w[ch] = sum of the channel's xhat, which adds to 0 over each group
    float[] dw = w.grad().toFloatArray();
    assertEquals(0f, dw[0] + dw[1], 1e-5f);
    assertEquals(0f, dw[2] + dw[3], 1e-5f);
  }

  @Test
  void refusesWhatPyTorchRefuses() {
    var e = assertThrows(IllegalArgumentException.class, () -> Ops.groupNorm(Tensor.zeros(2, 6, 4), 4, null, null, 1e-5));
    assertEquals("group_norm: expected the number of channels in the input to be divisible by num_groups, but got input of shape "
        + "[2, 6, 4] and num_groups=4", e.getMessage());
    e = assertThrows(IllegalArgumentException.class, () -> Ops.groupNorm(Tensor.zeros(6), 2, null, null, 1e-5));
    assertEquals("group_norm: input must be [N, C, *] (rank 2 or more), got shape [6]", e.getMessage());
    e = assertThrows(IllegalArgumentException.class, () -> Ops.groupNorm(Tensor.zeros(2, 6), 2, Tensor.ones(4), null, 1e-5));
    assertEquals("group_norm: input [2, 6] has 6 channels, but weight has shape [4] (expected [6])", e.getMessage());
    e = assertThrows(IllegalArgumentException.class, () -> Ops.groupNorm(Tensor.zeros(2, 6), 2, null, Tensor.ones(6, 1), 1e-5));
    assertEquals("group_norm: input [2, 6] has 6 channels, but bias has shape [6, 1] (expected [6])", e.getMessage());
    e = assertThrows(IllegalArgumentException.class, () -> Ops.groupNorm(Tensor.zeros(2, 6), 2, null, null, 0));
    assertEquals("group_norm: eps must be a positive number, got 0.0", e.getMessage());
  }
}
