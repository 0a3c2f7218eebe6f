package dev.kiln.runtime;

import static dev.kiln.runtime.IndexOpsTest.assertMessage;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;

import java.util.Map;
import java.util.function.Function;
import org.junit.jupiter.api.Test;

/**
 * softplus, ELU, hardtanh and the smooth L1 and Huber losses against PyTorch 1.13's values and
 * gradients on random inputs (index_ops/reference.txt), their edges and their errors.
 */
class PiecewiseOpsTest {
  private static final Map<String, Function<Tensor[], Tensor>> OPS = Map.ofEntries(
      Map.entry("softplus", in -> Ops.softplus(in[0], 1, 20)),
      Map.entry("softplus_beta_threshold", in -> Ops.softplus(in[0], 2, 3)),
      Map.entry("elu", in -> Ops.elu(in[0], 1)),
      Map.entry("elu_alpha", in -> Ops.elu(in[0], 0.3)),
      Map.entry("hardtanh", in -> Ops.hardtanh(in[0], -1, 1)),
      Map.entry("hardtanh_bounds", in -> Ops.hardtanh(in[0], -0.5, 2)),
      Map.entry("smooth_l1_none", in -> Ops.smoothL1LossPerElement(in[0], in[1], 1)),
      Map.entry("smooth_l1_mean_beta", in -> Ops.smoothL1Loss(in[0], in[1], 0.5, true)),
      Map.entry("smooth_l1_sum_beta0", in -> Ops.smoothL1Loss(in[0], in[1], 0, false)),
      Map.entry("huber_none", in -> Ops.huberLossPerElement(in[0], in[1], 1)),
      Map.entry("huber_mean_delta", in -> Ops.huberLoss(in[0], in[1], 0.3, true)),
      Map.entry("huber_sum_delta", in -> Ops.huberLoss(in[0], in[1], 2.5, false)));

  @Test
  void valuesAndGradientsAsPyTorchs() {
    for (Map.Entry<String, Function<Tensor[], Tensor>> e : OPS.entrySet()) {
      IndexOpsTest.TORCH.check(e.getKey(), 1e-6, 2e-6, e.getValue());
    }
  }

  @Test
  void hardtanhStopsTheGradientAtTheBoundsWhereClampPassesIt() {
    float[] v = {-2, -1, -0.5f, 0, 1, 3, Float.NaN};
    Tensor x = Tensor.of(v).requiresGrad(true);
    Tensor y = Ops.hardtanh(x, -1, 1);
    assertArrayEquals(new float[] {-1, -1, -0.5f, 0, 1, 1, Float.NaN}, y.toFloatArray());
    y.sum().backward();
    assertArrayEquals(new float[] {0, 0, 1, 1, 0, 0, 1}, x.grad().toFloatArray()); // PyTorch's hardtanh_backward, NaN passing
    Tensor c = Tensor.of(v).requiresGrad(true);
    c.clamp(-1, 1).sum().backward();
    assertArrayEquals(new float[] {0, 1, 1, 1, 1, 0, 0}, c.grad().toFloatArray());
    assertArrayEquals(new float[] {1, 1}, Ops.hardtanh(Tensor.of(new float[] {0, 3}), 2, 1).toFloatArray()); // as F.hardtanh
  }

  @Test
  void softplusIsLinearPastTheThresholdAndEluKeepsNan() {
    Tensor x = Tensor.of(new float[] {30, -100, Float.NaN}).requiresGrad(true);
    Tensor y = Ops.softplus(x, 1, 20);
    assertArrayEquals(new float[] {30, 3.783505853677006e-44f, Float.NaN}, y.toFloatArray()); // PyTorch's, a subnormal
    y.sum().backward();
    assertArrayEquals(new float[] {1, 3.783505853677006e-44f, Float.NaN}, x.grad().toFloatArray());
    assertArrayEquals(new float[] {2, -1, Float.NaN}, Ops.elu(Tensor.of(new float[] {2, -100, Float.NaN}), 1).toFloatArray());
  }

  @Test
  void gradientsMatchFiniteDifferences() {
    Kiln.manualSeed(11);
    Tensor x = GradCheck.awayFromZero(0.05f, 3, 4).requiresGrad(true);
    GradCheck.check("softplus", in -> Ops.softplus(in[0], 1.5, 2), 1e-3, 1e-3, 1e-3, x);
    GradCheck.check("elu", in -> Ops.elu(in[0], 0.7), 1e-3, 1e-3, 1e-3, x);
    Tensor t = Tensor.randn(3, 4).requiresGrad(true);
    GradCheck.check("smooth_l1", in -> Ops.smoothL1LossPerElement(in[0], in[1], 0.8), 1e-3, 1e-3, 1e-2, x, t);
    GradCheck.check("huber", in -> Ops.huberLoss(in[0], in[1], 0.8, true), 1e-3, 1e-3, 1e-2, x, t);
  }

  @Test
  void codedActivationsMatchFiniteDifferencesAndTheirKinks() {
    Kiln.manualSeed(12);
    Tensor x = GradCheck.awayFromZero(0.05f, 3, 4).mul(2f).detach().requiresGrad(true);
    GradCheck.check("mish", in -> Ops.mish(in[0]), 1e-3, 1e-3, 1e-3, x);
    GradCheck.check("selu", in -> Ops.selu(in[0]), 1e-3, 1e-3, 1e-3, x);
    GradCheck.check("celu", in -> Ops.celu(in[0], 0.6), 1e-3, 1e-3, 1e-3, x);
    GradCheck.check("softsign", in -> Ops.softsign(in[0]), 1e-3, 1e-3, 1e-3, x);
    GradCheck.check("log_sigmoid", in -> Ops.logSigmoid(in[0]), 1e-3, 1e-3, 1e-3, x);
    GradCheck.check("tanhshrink", in -> Ops.tanhshrink(in[0]), 1e-3, 1e-3, 1e-3, x);
    // PyTorch's sides at the kinks: hardswish's slope x/3 + 1/2 on [-3, 3], hardsigmoid's 1/6 strictly inside, relu6's 0 at 0 and 6
    Tensor k = Tensor.of(new float[] {-3, 3, 0, 6, -100, 100}).requiresGrad(true);
    Ops.hardswish(k).sum().backward();
    assertArrayEquals(new float[] {-0.5f, 1.5f, 0.5f, 1, 0, 1}, k.grad().toFloatArray());
    Tensor h = Tensor.of(new float[] {-3, 3, 0, 6, -100, 100}).requiresGrad(true);
    Ops.hardsigmoid(h).sum().backward();
    assertArrayEquals(new float[] {0, 0, 1f / 6, 0, 0, 0}, h.grad().toFloatArray());
    Tensor r = Tensor.of(new float[] {-1, 0, 3, 6, 7}).requiresGrad(true);
    Tensor y = Ops.relu6(r);
    assertArrayEquals(new float[] {0, 0, 3, 6, 6}, y.toFloatArray());
    y.sum().backward();
    assertArrayEquals(new float[] {0, 0, 1, 0, 0}, r.grad().toFloatArray());
    // log-sigmoid stays finite far out, as PyTorch's
    assertArrayEquals(new float[] {-100, -3.92e-44f}, Ops.logSigmoid(Tensor.of(new float[] {-100, 100})).toFloatArray(), 1e-45f);
    assertMessage("celu: alpha must not be 0 (it divides), got 0.0 (input shape [2, 3])", () -> Ops.celu(Tensor.zeros(2, 3), 0));
  }

  @Test
  void badArgumentsNameTheArgument() {
    Tensor x = Tensor.zeros(2, 3);
    assertMessage("smooth_l1_loss does not support negative values for beta, got -1.0 (input shape [2, 3])", () -> Ops.smoothL1LossPerElement(x, x, -1));
    assertMessage("huber_loss does not support non-positive values for delta, got 0.0 (input shape [2, 3])", () -> Ops.huberLossPerElement(x, x, 0));
    assertMessage("huber_loss: input [2, 3] and target [3, 3] must have the same shape", () -> Ops.huberLoss(x, Tensor.zeros(3, 3), 1, true));
    assertMessage("hardtanh: max_val must be a finite float, got Infinity (input shape [2, 3])", () -> Ops.hardtanh(x, -1, Double.POSITIVE_INFINITY));
    assertMessage("softplus: beta must not be 0 (it divides), got 0.0 (input shape [2, 3])", () -> Ops.softplus(x, 0, 20));
    assertMessage("elu: alpha must be a finite float, got NaN (input shape [2, 3])", () -> Ops.elu(x, Double.NaN));
  }
}
