package dev.kiln.dsl;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kiln.runtime.Kiln;
import dev.kiln.runtime.Tensor;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Supplier;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;

/**
 * InstanceNorm1d, and InstanceNorm1d/2d with {@code track_running_stats}, against PyTorch 1.13 (instance_norm/reference.txt
 * from make_reference.py): two training steps (outputs, input gradients, running statistics after each), the affine
 * parameters' gradients over both, then evaluation by the running statistics (batched and unbatched); the state-dict
 * keys, reprs and errors.
 */
class InstanceNormTest {
  private static final TorchReference REF = new TorchReference("/instance_norm/reference.txt");
  private static final double TOL = 1e-5;

  private static void runCase(String name, InstanceNorm<?> m) {
    if (m.weight() != null) {
      int c = m.weight().numel();
      float[] w = new float[c];
      float[] b = new float[c];
      for (int i = 0; i < c; i++) {
        w[i] = (float) (1 + Math.sin(0.7f * i) / 2);
        b[i] = (float) (Math.cos(i) / 3);
      }
      try (var g = Kiln.noGrad()) {
        m.weight().copyFrom(Tensor.of(w));
        m.bias().copyFrom(Tensor.of(b));
      }
    }
    m.train();
    for (int step = 1; step <= 2; step++) {
      Tensor x = REF.copy(name + ".x" + step).requiresGrad(true);
      Tensor out = m.forward(x);
      REF.close(name + ".out" + step, out, TOL);
      TorchReference.attentionLoss(out, null).backward();
      REF.close(name + ".grad.x" + step, x.grad(), TOL);
      if (m.spec().trackRunningStats()) {
        REF.close(name + ".running_mean" + step, m.runningMean(), TOL);
        REF.close(name + ".running_var" + step, m.runningVar(), TOL);
      }
    }
    if (m.weight() != null) {
      REF.close(name + ".grad.weight", m.weight().grad(), TOL);
      REF.close(name + ".grad.bias", m.bias().grad(), TOL);
    }
    m.eval();
    Tensor x3 = REF.copy(name + ".x3").requiresGrad(true);
    Tensor out = m.forward(x3);
    REF.close(name + ".out3", out, TOL);
    TorchReference.attentionLoss(out, null).backward();
    REF.close(name + ".grad.x3", x3.grad(), TOL);
  }

  @Test
  void instanceNorm1dAsPyTorch() {
    runCase("in1d", new InstanceNorm1d(3));
  }

  @Test
  void instanceNorm1dAffineWithRunningStatsAsPyTorch() {
    runCase("in1d_affine_track", new InstanceNorm1d(3, 1e-5, 0.2, true, true));
  }

  @Test
  void instanceNorm2dWithRunningStatsAsPyTorch() {
    runCase("in2d_track", new InstanceNorm2d(2, 1e-3, 0.1, false, true));
  }

  @Test
  void instanceNorm2dAffineWithRunningStatsAsPyTorch() {
    runCase("in2d_affine_track", new InstanceNorm2d(2, 1e-5, 0.1, true, true));
  }

  @Test
  void stateDictKeysAndReprsArePyTorchs() {
    InstanceNorm1d tracked = new InstanceNorm1d(3, 1e-5, 0.2, true, true);
    assertEquals(List.of("weight", "bias", "running_mean", "running_var", "num_batches_tracked"),
        new ArrayList<>(tracked.stateDict().keySet()));
    assertEquals(List.of("running_mean", "running_var", "num_batches_tracked"),
        new ArrayList<>(new InstanceNorm2d(2, 1e-5, 0.1, false, true).stateDict().keySet()));
    assertTrue(new InstanceNorm1d(3).stateDict().isEmpty());
    assertNull(new InstanceNorm2d(3).runningMean());
    tracked.forward(Tensor.randn(2, 3, 4));
    assertEquals(0, tracked.numBatchesTracked().toFloatArray()[0], "PyTorch's instance norms never count batches");
    assertArrayEquals(new float[] {1, 1, 1}, new InstanceNorm1d(3, 1e-5, 0.1, false, true).runningVar().toFloatArray());
    assertEquals("InstanceNorm1d(3, eps=1e-05, momentum=0.1, affine=False, track_running_stats=False)",
        new InstanceNorm1d(3).toString());
    assertEquals("InstanceNorm1d(3, eps=1e-05, momentum=0.2, affine=True, track_running_stats=True)", tracked.toString());
    assertEquals("InstanceNorm2d(2, eps=0.001, momentum=0.1, affine=False, track_running_stats=True)",
        new InstanceNorm2d(2, 1e-3, 0.1, false, true).toString());
  }

  @Test
  void withoutRunningStatsEvaluationIsTraining() {
    InstanceNorm1d m = new InstanceNorm1d(3);
    Tensor x = Tensor.randn(2, 3, 6);
    float[] training = m.forward(x).toFloatArray();
    m.eval();
    assertArrayEquals(training, m.forward(x).toFloatArray());
  }

  private static void assertMessage(String expected, Executable call) {
    Throwable e = assertThrows(IllegalArgumentException.class, call);
    assertEquals(expected, e.getMessage());
  }

  @Test
  void errorsNameTheLayerAndTheShape() {
    Supplier<InstanceNorm1d> in1d = () -> new InstanceNorm1d(3);
    assertMessage("InstanceNorm1d(3, eps=1e-05, momentum=0.1, affine=False, track_running_stats=False) expects [N, 3, L]"
        + " (or [3, L] unbatched), receives [2, 4, 5]", () -> in1d.get().forward(Tensor.zeros(2, 4, 5)));
    assertMessage("InstanceNorm1d(3, eps=1e-05, momentum=0.1, affine=False, track_running_stats=False) expects [N, 3, L]"
        + " (or [3, L] unbatched), receives [2, 3, 4, 5]", () -> in1d.get().forward(Tensor.zeros(2, 3, 4, 5)));
    assertMessage("InstanceNorm1d(3, eps=1e-05, momentum=0.1, affine=False, track_running_stats=False) expects more than"
        + " 1 spatial element (as PyTorch), receives [2, 3, 1]", () -> in1d.get().forward(Tensor.zeros(2, 3, 1)));
    assertMessage("InstanceNorm1d(0): num_features must be positive", () -> new InstanceNorm1d(0));
    assertMessage("InstanceNorm2d(2, momentum=1.5): momentum must be in [0, 1]",
        () -> new InstanceNorm2d(2, 1e-5, 1.5, false, true));
  }
}
