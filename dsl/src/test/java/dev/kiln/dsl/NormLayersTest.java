package dev.kiln.dsl;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kiln.runtime.Kiln;
import dev.kiln.runtime.Tensor;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** BatchNorm1d/2d, Dropout and the activation layers: state, behaviour in train and eval, reprs, shape rules. */
class NormLayersTest {
  /** A small model in the PyTorch tutorials' style: Linear, BatchNorm, ReLU, Dropout, Linear. */
  static class Net extends Module {
    final Linear fc1 = new Linear(4, 8);
    final BatchNorm1d bn1 = new BatchNorm1d(8);
    final Dropout drop = new Dropout(0.4);
    final Linear fc2 = new Linear(8, 3);

    @Override
    public Tensor forward(Tensor x) {
      return fc2.apply(drop.apply(F.relu(bn1.apply(fc1.apply(x)))));
    }
  }

  @BeforeEach
  void seed() {
    Kiln.manualSeed(0);
  }

  // ---- BatchNorm

  @Test
  void batchNormReprMatchesPyTorch() {
    assertEquals("BatchNorm2d(32, eps=1e-05, momentum=0.1, affine=True, track_running_stats=True)", new BatchNorm2d(32).toString());
    assertEquals("BatchNorm1d(512, eps=1e-05, momentum=0.1, affine=True, track_running_stats=True)", new BatchNorm1d(512).toString());
    assertEquals("BatchNorm1d(4, eps=0.001, momentum=0.01, affine=False, track_running_stats=True)",
        new BatchNorm1d(4, 1e-3, 0.01, false).toString());
    assertEquals("BatchNorm2d(3, eps=2.5e-06, momentum=1.0, affine=True, track_running_stats=True)",
        new BatchNorm2d(3, 2.5e-6, 1, true).toString());
    assertEquals(
        "Net(\n"
            + "  (fc1): Linear(in_features=4, out_features=8, bias=True)\n"
            + "  (bn1): BatchNorm1d(8, eps=1e-05, momentum=0.1, affine=True, track_running_stats=True)\n"
            + "  (drop): Dropout(p=0.4, inplace=False)\n"
            + "  (fc2): Linear(in_features=8, out_features=3, bias=True)\n"
            + ")",
        new Net().toString());
  }

  @Test
  void stateDictHasParametersThenBuffersPerModuleInPyTorchOrder() {
    Net net = new Net();
    assertEquals(List.of("fc1.weight", "fc1.bias", "bn1.weight", "bn1.bias", "bn1.running_mean", "bn1.running_var",
            "bn1.num_batches_tracked", "fc2.weight", "fc2.bias"),
        List.copyOf(net.stateDict().keySet()));
    assertEquals(List.of("fc1.weight", "fc1.bias", "bn1.weight", "bn1.bias", "fc2.weight", "fc2.bias"),
        List.copyOf(net.namedParameters().keySet()), "buffers are not parameters");
    assertEquals(List.of("bn1.running_mean", "bn1.running_var", "bn1.num_batches_tracked"),
        List.copyOf(net.namedBuffers().keySet()));
    assertEquals(6, net.parameters().size());
    assertEquals(4 * 8 + 8 + 8 + 8 + 8 * 3 + 3, net.parameterCount());
    Sequential seq = Sequential.of(new Linear(2, 2), new BatchNorm1d(2, 1e-5, 0.1, false));
    assertEquals(List.of("0.weight", "0.bias", "1.running_mean", "1.running_var", "1.num_batches_tracked"),
        List.copyOf(seq.stateDict().keySet()));
  }

  @Test
  void stateDictPutsAModulesOwnBuffersBeforeItsChildren() {
    class WithOwnState extends Module {
      final Linear child = new Linear(2, 2);
      final Tensor scale = registerParameter("scale", Tensor.ones(2).requiresGrad(true));
      final Tensor steps = registerBuffer("steps", Tensor.zeros(1));

      @Override
      public Tensor forward(Tensor x) {
        return child.apply(x);
      }
    }
    WithOwnState m = new WithOwnState();
    assertEquals(List.of("scale", "steps", "child.weight", "child.bias"), List.copyOf(m.stateDict().keySet()));
    Tensor saved = m.stateDict().get("steps");
    assertFalse(saved.requiresGrad());
    m.steps.buffer()[0] = 5;
    assertEquals(5f, saved.item(), "state dict entries share the data, as PyTorch's detached tensors");
    assertFalse(m.stateDict().get("scale").requiresGrad(), "state dict entries are detached");
  }

  @Test
  void buffersAreCheckedWhenRegistered() {
    class Bad extends Module {
      Bad(boolean trainable) {
        registerBuffer("x", trainable ? Tensor.zeros(1).requiresGrad(true) : Tensor.zeros(1));
        registerBuffer("x", Tensor.zeros(1));
      }

      @Override
      public Tensor forward(Tensor x) {
        return x;
      }
    }
    var e = assertThrows(IllegalArgumentException.class, () -> new Bad(true));
    assertTrue(e.getMessage().contains("requires grad"), e.getMessage());
    e = assertThrows(IllegalArgumentException.class, () -> new Bad(false));
    assertTrue(e.getMessage().contains("'x' is already registered"), e.getMessage());
  }

  @Test
  void batchNormStartsAsPyTorchAndCountsTrainingBatches() {
    BatchNorm1d bn = new BatchNorm1d(3);
    assertArrayEquals(new float[] {1, 1, 1}, bn.weight().toFloatArray());
    assertArrayEquals(new float[] {0, 0, 0}, bn.bias().toFloatArray());
    assertArrayEquals(new float[] {0, 0, 0}, bn.runningMean().toFloatArray());
    assertArrayEquals(new float[] {1, 1, 1}, bn.runningVar().toFloatArray());
    assertEquals(0f, bn.numBatchesTracked().item());
    bn.forward(Tensor.randn(4, 3));
    bn.forward(Tensor.randn(4, 3));
    assertEquals(2f, bn.numBatchesTracked().item());
    bn.eval();
    bn.forward(Tensor.randn(4, 3));
    assertEquals(2f, bn.numBatchesTracked().item(), "evaluation batches are not counted");
  }

  @Test
  void runningStatisticsAfterTwoBatchesAndEvalUsesThem() {
    BatchNorm2d bn = new BatchNorm2d(2);
    // [N=1, C=2, H=2, W=1]. Batch 1: channel 0 holds 1, 3 (mean 2, unbiased var 2),
    // channel 1 holds 0, 4 (mean 2, unbiased var 8).
    bn.forward(Tensor.of(new float[] {1, 3, 0, 4}, 1, 2, 2, 1));
    // Batch 2 with N=2: channel 0 holds 2, 2, 4, 4 (mean 3, unbiased var 4/3), channel 1 holds 0 four times.
    bn.forward(Tensor.of(new float[] {2, 2, 0, 0, 4, 4, 0, 0}, 2, 2, 2, 1));
    float[] mean = {0.9f * (0.1f * 2) + 0.1f * 3, 0.9f * (0.1f * 2) + 0.1f * 0};
    float[] var = {0.9f * (0.9f + 0.1f * 2) + 0.1f * 4 / 3, 0.9f * (0.9f + 0.1f * 8) + 0.1f * 0};
    assertArrayEquals(mean, bn.runningMean().toFloatArray(), 1e-6f);
    assertArrayEquals(var, bn.runningVar().toFloatArray(), 1e-6f);
    assertEquals(2f, bn.numBatchesTracked().item());

    bn.weight().buffer()[1] = 2f;
    bn.bias().buffer()[0] = 0.5f;
    bn.eval();
    float[] y = bn.forward(Tensor.of(new float[] {1, 5, -1, 2}, 1, 2, 2, 1)).toFloatArray();
    double s0 = 1 / Math.sqrt(var[0] + 1e-5), s1 = 2 / Math.sqrt(var[1] + 1e-5);
    assertArrayEquals(new float[] {
        (float) ((1 - mean[0]) * s0 + 0.5), (float) ((5 - mean[0]) * s0 + 0.5),
        (float) ((-1 - mean[1]) * s1), (float) ((2 - mean[1]) * s1)}, y, 1e-5f);
    assertArrayEquals(mean, bn.runningMean().toFloatArray(), 1e-6f, "evaluation leaves the running statistics");
  }

  @Test
  void batchNormTrainsItsAffineParameters() {
    Net net = new Net();
    new CrossEntropyLoss().apply(net.forward(Tensor.randn(5, 4)), Tensor.labels(0, 1, 2, 1, 0)).backward();
    assertArrayEquals(new int[] {8}, net.bn1.weight().grad().shape());
    assertArrayEquals(new int[] {8}, net.bn1.bias().grad().shape());
    assertNull(net.bn1.runningMean().grad());
  }

  @Test
  void withoutAffineThereAreNoParameters() {
    BatchNorm1d bn = new BatchNorm1d(3, 1e-5, 0.1, false);
    assertNull(bn.weight());
    assertNull(bn.bias());
    assertTrue(bn.parameters().isEmpty());
    Tensor y = bn.forward(Tensor.of(new float[] {1, 2, 3, 3, 4, 5}, 2, 3));
    assertArrayEquals(new float[] {-1, -1, -1, 1, 1, 1}, y.toFloatArray(), 1e-4f);
  }

  @Test
  void trainingOnOneValuePerChannelFailsAsPyTorchButEvalWorks() {
    BatchNorm1d bn = new BatchNorm1d(512);
    var e = assertThrows(IllegalArgumentException.class, () -> bn.forward(Tensor.randn(1, 512)));
    assertEquals("Expected more than 1 value per channel when training, got input size [1, 512]", e.getMessage());
    assertEquals(0f, bn.numBatchesTracked().item(), "a failed batch is not counted");
    bn.eval();
    assertArrayEquals(new int[] {1, 512}, bn.forward(Tensor.randn(1, 512)).shape());
  }

  @Test
  void batchNormShapeRulesNameTheLayer() {
    assertArrayEquals(new int[] {-1, 8}, new BatchNorm1d(8).outputShape(new int[] {-1, 8}));
    assertArrayEquals(new int[] {-1, 8, 5}, new BatchNorm1d(8).outputShape(new int[] {-1, 8, 5}));
    assertArrayEquals(new int[] {-1, 32, 28, 28}, new BatchNorm2d(32).outputShape(new int[] {-1, 32, 28, 28}));
    var e = assertThrows(ShapeException.class, () -> new BatchNorm2d(32).outputShape(new int[] {-1, 16, 28, 28}));
    assertEquals("BatchNorm2d(32, eps=1e-05, momentum=0.1, affine=True, track_running_stats=True) expects [N, 32, H, W], "
        + "receives [N, 16, 28, 28]", e.getMessage());
    e = assertThrows(ShapeException.class, () -> new BatchNorm2d(32).forward(Tensor.zeros(2, 32)));
    assertTrue(e.getMessage().endsWith("expects [N, 32, H, W], receives [2, 32]"), e.getMessage());
    e = assertThrows(ShapeException.class, () -> new BatchNorm1d(8).outputShape(new int[] {-1, 4}));
    assertTrue(e.getMessage().startsWith("BatchNorm1d(8, ") && e.getMessage().endsWith("expects [N, 8] or [N, 8, L], receives [N, 4]"),
        e.getMessage());
    assertThrows(ShapeException.class, () -> new BatchNorm1d(8).outputShape(new int[] {8}));
  }

  @Test
  void batchNormHyperParametersAreChecked() {
    var e = assertThrows(IllegalArgumentException.class, () -> new BatchNorm2d(0));
    assertTrue(e.getMessage().contains("num_features must be positive"), e.getMessage());
    e = assertThrows(IllegalArgumentException.class, () -> new BatchNorm1d(4, 0, 0.1, true));
    assertTrue(e.getMessage().contains("eps must be positive"), e.getMessage());
    e = assertThrows(IllegalArgumentException.class, () -> new BatchNorm1d(4, 1e-5, 1.5, true));
    assertTrue(e.getMessage().contains("momentum must be in [0, 1]"), e.getMessage());
  }

  // ---- Dropout

  @Test
  void dropoutZeroesAboutPAndScalesTheRest() {
    Dropout drop = new Dropout(0.4);
    int n = 100_000;
    float[] y = drop.forward(Tensor.ones(n)).toFloatArray();
    int zeros = 0;
    for (float v : y) {
      if (v == 0f) {
        zeros++;
      } else {
        assertEquals(1f / 0.6f, v, 1e-6f, "kept values are scaled by 1/(1-p)");
      }
    }
    assertEquals(0.4, (double) zeros / n, 0.01); // standard deviation of the fraction: 0.0015
  }

  @Test
  void dropoutIsTheIdentityInEval() {
    Dropout drop = new Dropout(0.4);
    drop.eval();
    Tensor x = Tensor.randn(3, 5);
    assertSame(x, drop.forward(x));
  }

  @Test
  void dropoutMasksRepeatUnderASeedAndDifferBetweenCalls() {
    Dropout drop = new Dropout(0.5);
    Tensor x = Tensor.ones(64);
    Kiln.manualSeed(3);
    float[] first = drop.forward(x).toFloatArray();
    float[] second = drop.forward(x).toFloatArray();
    Kiln.manualSeed(3);
    assertArrayEquals(first, drop.forward(x).toFloatArray(), "the same seed gives the same mask");
    assertFalse(Arrays.equals(first, second), "consecutive calls draw new masks");
  }

  @Test
  void dropoutReprAndArguments() {
    assertEquals("Dropout(p=0.4, inplace=False)", new Dropout(0.4).toString());
    assertEquals("Dropout(p=0.5, inplace=False)", new Dropout().toString());
    var e = assertThrows(IllegalArgumentException.class, () -> new Dropout(1.5));
    assertTrue(e.getMessage().contains("between 0 and 1, but got 1.5"), e.getMessage());
    assertArrayEquals(new int[] {-1, 7}, new Dropout(0.1).outputShape(new int[] {-1, 7}));
  }

  // ---- activation layers and F

  @Test
  void activationLayerReprs() {
    assertEquals("Sigmoid()", new Sigmoid().toString());
    assertEquals("Tanh()", new Tanh().toString());
    assertEquals("LeakyReLU(negative_slope=0.01)", new LeakyReLU().toString());
    assertEquals("LeakyReLU(negative_slope=0.2)", new LeakyReLU(0.2).toString());
    assertEquals("Softmax(dim=1)", new Softmax(1).toString());
    assertEquals("Sequential(\n  (0): Linear(in_features=4, out_features=3, bias=True)\n  (1): Softmax(dim=-1)\n)",
        Sequential.of(new Linear(4, 3), new Softmax(-1)).toString());
  }

  @Test
  void activationLayersMatchTheFunctionalForms() {
    Tensor x = Tensor.randn(3, 4);
    assertArrayEquals(F.sigmoid(x).toFloatArray(), new Sigmoid().forward(x).toFloatArray());
    assertArrayEquals(F.tanh(x).toFloatArray(), new Tanh().forward(x).toFloatArray());
    assertArrayEquals(F.leakyRelu(x, 0.01).toFloatArray(), new LeakyReLU().forward(x).toFloatArray());
    assertArrayEquals(F.softmax(x, 0).toFloatArray(), new Softmax(0).forward(x).toFloatArray());
    float[] soft = F.softmax(x, 1).toFloatArray();
    float[] logSoft = F.logSoftmax(x, 1).toFloatArray();
    for (int i = 0; i < soft.length; i++) {
      assertEquals(Math.log(soft[i]), logSoft[i], 1e-5);
    }
    assertArrayEquals(new float[] {4, 10}, F.mul(Tensor.of(new float[] {2, 5}), Tensor.full(2f, 2)).toFloatArray());
    assertArrayEquals(new float[] {3, 6}, F.add(Tensor.of(new float[] {2, 5}), Tensor.ones(2)).toFloatArray());
    assertSame(x, F.dropout(x, 0.5, false));
  }

  @Test
  void activationShapeRules() {
    assertArrayEquals(new int[] {-1, 3, 4}, new Sigmoid().outputShape(new int[] {-1, 3, 4}));
    assertArrayEquals(new int[] {-1, 10}, new Softmax(1).outputShape(new int[] {-1, 10}));
    var e = assertThrows(ShapeException.class, () -> new Softmax(2).outputShape(new int[] {-1, 10}));
    assertTrue(e.getMessage().startsWith("Softmax(dim=2) cannot take [N, 10]"), e.getMessage());
    assertThrows(ShapeException.class, () -> new Softmax(2).forward(Tensor.zeros(2, 10)));
    assertThrows(IllegalArgumentException.class, () -> new LeakyReLU(Double.NaN));
  }
}
