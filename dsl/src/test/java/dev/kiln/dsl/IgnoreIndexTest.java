package dev.kiln.dsl;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kiln.runtime.Tensor;
import org.junit.jupiter.api.Test;

/** PyTorch's ignore_index (-100 by default) in CrossEntropyLoss and NLLLoss, against PyTorch 1.13's values and gradients. */
class IgnoreIndexTest {
  /** sin(0.37 i) over [5, 3], as the PyTorch script wrote it. */
  private static Tensor logits() {
    float[] v = new float[15];
    for (int i = 0; i < v.length; i++) {
      v[i] = (float) Math.sin((float) i * 0.37f);
    }
    return Tensor.of(v, 5, 3).requiresGrad(true);
  }

  private static final Tensor PADDED = Tensor.labels(2, -100, 0, 1, -100);

  @Test
  void crossEntropyLeavesThePaddingOut() {
    Tensor x = logits();
    Tensor mean = new CrossEntropyLoss().apply(x, PADDED);
    mean.backward();
    assertEquals(0.9315503f, mean.item(), 1e-6f);
    assertArrayEquals(new float[] {0.0757872f, 0.1088036f, -0.1845908f, 0, 0, 0, -0.1885049f, 0.1102806f, 0.0782243f, 0.1480504f,
        -0.2282229f, 0.0801725f, 0, 0, 0}, x.grad().toFloatArray(), 1e-6f);

    Tensor y = logits();
    Tensor sum = new CrossEntropyLoss(Reduction.SUM).apply(y, PADDED);
    assertEquals(2.794651f, sum.item(), 1e-5f);

    Tensor z = logits();
    Tensor each = new CrossEntropyLoss(Reduction.NONE).apply(z, PADDED);
    assertArrayEquals(new float[] {0.806926f, 0, 0.8335933f, 1.1541317f, 0}, each.toFloatArray(), 1e-6f);
  }

  @Test
  void labelSmoothingWithPadding() {
    Tensor x = logits();
    Tensor loss = new CrossEntropyLoss().labelSmoothing(0.2).apply(x, PADDED);
    loss.backward();
    assertEquals(0.9716334f, loss.item(), 1e-6f);
    assertArrayEquals(new float[] {0.053565f, 0.0865814f, -0.1401463f, 0, 0, 0, -0.1440605f, 0.0880584f, 0.0560021f, 0.1258282f,
        -0.1837785f, 0.0579503f, 0, 0, 0}, x.grad().toFloatArray(), 1e-6f);
  }

  @Test
  void nllLossWithAnIndexOfItsOwn() {
    Tensor x = logits();
    Tensor loss = new NLLLoss().ignoreIndex(7).apply(F.logSoftmax(x, 1), Tensor.labels(1, 7, 7, 0, 2));
    loss.backward();
    assertEquals(0.9910108f, loss.item(), 1e-6f);
    assertArrayEquals(new float[] {0.0757872f, -0.2245297f, 0.1487426f, 0, 0, 0, 0, 0, 0, -0.1852829f, 0.1051104f, 0.0801725f,
        0.1095976f, 0.1061345f, -0.2157321f}, x.grad().toFloatArray(), 1e-6f);
  }

  @Test
  void everyTargetIgnoredIsNaNAndOtherNegativesAreStillRefused() {
    Tensor x = logits();
    Tensor all = new CrossEntropyLoss().apply(x, Tensor.labels(-100, -100, -100, -100, -100));
    assertTrue(Float.isNaN(all.item()));
    all.backward();
    assertArrayEquals(new float[15], x.grad().toFloatArray(), "a zero gradient, as PyTorch's (not NaN)");
    var soft = org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class,
        () -> new CrossEntropyLoss().ignoreIndex(3).apply(logits(), Tensor.zeros(5, 3)));
    assertTrue(soft.getMessage().contains("not supported for class-probability targets"), soft.getMessage());
    var e = org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class,
        () -> new CrossEntropyLoss().apply(logits(), Tensor.labels(0, -1, 0, 0, 0)));
    assertTrue(e.getMessage().contains("-1"), e.getMessage());
    assertEquals(-100, new CrossEntropyLoss().ignoreIndex());
  }
}
