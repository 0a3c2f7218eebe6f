package dev.kiln.dsl;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.kiln.runtime.Tensor;
import org.junit.jupiter.api.Test;

/** LogSoftmax and NLLLoss against PyTorch 1.13's values (written from it); their pair is cross-entropy. */
class NllLossTest {
  @Test
  void logSoftmaxThenNllLossIsCrossEntropy() {
    Tensor x = Tensor.of(new float[] {0.1f, 0.2f, 0.3f, 1, -1, 0.5f}, 2, 3).requiresGrad(true);
    Tensor lp = new LogSoftmax(1).forward(x);
    assertArrayEquals(new float[] {-1.2019429f, -1.1019429f, -1.0019429f, -0.55495697f, -2.5549569f, -1.0549569f},
        lp.toFloatArray(), 1e-6f);
    Tensor loss = new NLLLoss().apply(lp, Tensor.labels(2, 0));
    assertEquals(0.77844989f, loss.item(), 1e-6f);
    loss.backward();
    assertArrayEquals(new float[] {0.15030479f, 0.16611248f, -0.3164173f, -0.21295151f, 0.038847789f, 0.17410371f},
        x.grad().toFloatArray(), 1e-6f);
    assertEquals(new CrossEntropyLoss().apply(x, Tensor.labels(2, 0)).item(), loss.item(), 1e-6f);
    assertEquals("LogSoftmax(dim=1)", new LogSoftmax(1).toString());
  }

  @Test
  void reductionsAndOneSample() {
    Tensor lp = Tensor.of(new float[] {-1, -2, -3, -4}, 2, 2);
    assertArrayEquals(new float[] {2, 3}, new NLLLoss(Reduction.NONE).apply(lp, Tensor.labels(1, 0)).toFloatArray());
    assertEquals(5f, new NLLLoss(Reduction.SUM).apply(lp, Tensor.labels(1, 0)).item());
    assertEquals(2.5f, F.nllLoss(lp, Tensor.labels(1, 0)).item());
    assertEquals(2f, new NLLLoss().apply(Tensor.of(new float[] {-1, -2}), Tensor.labels(1).reshape()).item());
  }

  @Test
  void badTargetsAreRefused() {
    Tensor lp = Tensor.zeros(2, 3);
    assertEquals("nll_loss: target 3 of sample 1 is out of range for 3 classes (0..2)",
        assertThrows(IllegalArgumentException.class, () -> new NLLLoss().apply(lp, Tensor.labels(0, 3))).getMessage());
    assertEquals("nll_loss: input [2, 3] needs a target of shape [2], got [3]",
        assertThrows(IllegalArgumentException.class, () -> new NLLLoss().apply(lp, Tensor.labels(0, 1, 2))).getMessage());
    assertEquals("nll_loss: target must hold class indices (Tensor.labels(...)), got a float tensor of shape [2]",
        assertThrows(IllegalArgumentException.class, () -> new NLLLoss().apply(lp, Tensor.zeros(2))).getMessage());
  }
}
