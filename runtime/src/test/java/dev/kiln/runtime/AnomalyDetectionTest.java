package dev.kiln.runtime;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** {@link Kiln#setDetectAnomaly}: a NaN loss or a non-finite gradient stops backward with the step. */
class AnomalyDetectionTest {
  @AfterEach
  void off() {
    Kiln.setDetectAnomaly(false);
  }

  /** {@code sum(1e30 * (x * w))} with x = 0: the loss is 0, but x's gradient 1e30 * w overflows for w = 1e30. */
  private static Tensor overflowingGradient(Tensor x) {
    Tensor w = Tensor.of(new float[] {1e30f, 1f}, 2);
    return Ops.sum(Ops.scale(Ops.mul(x, w), 1e30f));
  }

  @Test
  void offByDefaultAndThenBackwardDoesNotLook() {
    assertFalse(Kiln.isAnomalyEnabled());
    Tensor x = Tensor.of(new float[] {0f, 0f}, 2).requiresGrad(true);
    overflowingGradient(x).backward();
    assertEquals(Float.POSITIVE_INFINITY, x.grad().toFloatArray()[0]);
  }

  @Test
  void aNonFiniteGradientNamesTheOperationTheInputAndTheStep() {
    Kiln.setDetectAnomaly(true);
    Tensor x = Tensor.of(new float[] {0f, 0f}, 2).requiresGrad(true);
    Ops.sum(Ops.mul(x, x)).backward(); // step 1: finite
    var e = assertThrows(NonFiniteException.class, () -> overflowingGradient(x).backward()); // step 2
    assertEquals(2, e.backwardCall());
    assertTrue(e.getMessage().startsWith("backward(): mul backward's gradient for its input 0 [2] is Infinity at flat index 0 of 2"
        + " (backward call 2 since anomaly detection was turned on"), e.getMessage());

    Kiln.setDetectAnomaly(true); // again: the count restarts
    var again = assertThrows(NonFiniteException.class, () -> overflowingGradient(x).backward());
    assertEquals(1, again.backwardCall());
  }

  @Test
  void aNanLossStopsBackwardBeforeAnyGradientIsWritten() {
    Kiln.setDetectAnomaly(true);
    Tensor x = Tensor.of(new float[] {Float.NaN, 1f}, 2).requiresGrad(true);
    var e = assertThrows(NonFiniteException.class, () -> Ops.sum(x).backward());
    assertTrue(e.getMessage().startsWith("backward(): the loss is NaN (backward call 1 "), e.getMessage());
    assertEquals(null, x.grad());
  }
}
