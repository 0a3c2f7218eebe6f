package dev.kiln.runtime.optim;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kiln.runtime.Tensor;
import java.util.List;
import org.junit.jupiter.api.Test;

/** SGD steps against values worked out by hand from PyTorch's update rule. */
class SGDTest {
  private static void step(SGD opt, Tensor p, float grad) {
    p.setGrad(Tensor.of(new float[] {grad}));
    opt.step();
  }

  @Test
  void plainSgd() {
    Tensor p = Tensor.of(new float[] {1f}).requiresGrad(true);
    SGD opt = new SGD(List.of(p), 0.1);
    step(opt, p, 2f); // 1 - 0.1*2 = 0.8
    assertEquals(0.8f, p.item(), 1e-7f);
  }

  @Test
  void momentumFirstStepCopiesTheGradient() {
    Tensor p = Tensor.of(new float[] {1f}).requiresGrad(true);
    SGD opt = new SGD(List.of(p), 0.1).momentum(0.9);
    step(opt, p, 1f);   // buf = 1 (not 0.9*0 + 1*1 with dampening) -> p = 1 - 0.1 = 0.9
    assertEquals(0.9f, p.item(), 1e-6f);
    step(opt, p, 2f);   // buf = 0.9*1 + 2 = 2.9 -> p = 0.9 - 0.29 = 0.61
    assertEquals(0.61f, p.item(), 1e-6f);
    step(opt, p, -1f);  // buf = 0.9*2.9 - 1 = 1.61 -> p = 0.61 - 0.161 = 0.449
    assertEquals(0.449f, p.item(), 1e-6f);
  }

  @Test
  void dampeningAppliesFromTheSecondStep() {
    Tensor p = Tensor.of(new float[] {0f}).requiresGrad(true);
    SGD opt = new SGD(List.of(p), 1.0).momentum(0.5).dampening(0.5);
    step(opt, p, 4f);   // buf = 4 -> p = -4
    step(opt, p, 4f);   // buf = 0.5*4 + 0.5*4 = 4 -> p = -8
    assertEquals(-8f, p.item(), 1e-6f);
  }

  @Test
  void nesterovAndWeightDecay() {
    Tensor p = Tensor.of(new float[] {2f}).requiresGrad(true);
    SGD opt = new SGD(List.of(p), 0.1).momentum(0.9).nesterov(true).weightDecay(0.5);
    step(opt, p, 1f);   // d = 1 + 0.5*2 = 2; buf = 2; d = 2 + 0.9*2 = 3.8; p = 2 - 0.38 = 1.62
    assertEquals(1.62f, p.item(), 1e-6f);
    step(opt, p, 1f);   // d = 1 + 0.81 = 1.81; buf = 1.8 + 1.81 = 3.61; d = 1.81 + 3.249 = 5.059; p = 1.62 - 0.5059
    assertEquals(1.1141f, p.item(), 1e-5f);
  }

  @Test
  void zeroGradClearsAndParamsWithoutGradStayPut() {
    Tensor a = Tensor.of(new float[] {1f}).requiresGrad(true);
    Tensor b = Tensor.of(new float[] {1f}).requiresGrad(true);
    SGD opt = new SGD(List.of(a, b), 0.1);
    a.setGrad(Tensor.of(new float[] {1f}));
    opt.step();
    assertEquals(0.9f, a.item(), 1e-7f);
    assertEquals(1f, b.item());
    opt.zeroGrad();
    assertEquals(0f, a.grad().item());  // zeroed in place, as PyTorch 1.13's zero_grad()
    assertNull(b.grad());               // never had one: stays absent
  }

  @Test
  void learningRateChangesByHandPerGroup() {
    Tensor p = Tensor.of(new float[] {1f}).requiresGrad(true);
    SGD opt = new SGD(List.of(p), 0.1);
    opt.paramGroups().forEach(g -> g.lr(g.lr() * 0.1));
    step(opt, p, 1f);
    assertEquals(0.99f, p.item(), 1e-7f);
  }

  /** The native (BLAS level-1) update used after a compiled backward must equal the heap loop. */
  @Test
  void nativeUpdateEqualsHeapUpdate() {
    org.junit.jupiter.api.Assumptions.assumeTrue(dev.kiln.runtime.cpu.Blas.isNative(), "OpenBLAS not loaded");
    for (boolean nesterov : new boolean[] {false, true}) {
      dev.kiln.runtime.Kiln.manualSeed(9);
      float[] start = Tensor.randn(257).toFloatArray();
      Tensor heap = Tensor.of(start).requiresGrad(true);
      Tensor nat = Tensor.of(start).requiresGrad(true);
      SGD a = new SGD(List.of(heap), 0.05).momentum(0.9).weightDecay(0.01).nesterov(nesterov).dampening(0);
      SGD b = new SGD(List.of(nat), 0.05).momentum(0.9).weightDecay(0.01).nesterov(nesterov).dampening(0);
      for (int step = 0; step < 5; step++) {
        float[] g = Tensor.randn(257).toFloatArray();
        heap.setGrad(Tensor.of(g));
        nat.setGrad(Tensor.of(g));
        nat.readNative();          // both copies current: the native path is taken
        nat.grad().readNative();
        a.step();
        b.step();
        assertTrue(nat.isNativeCurrent());
      }
      float[] x = heap.toFloatArray(), y = nat.toFloatArray();
      for (int i = 0; i < x.length; i++) {
        assertEquals(x[i], y[i], 1e-6f * Math.max(1f, Math.abs(x[i])), "nesterov=" + nesterov + " at " + i);
      }
    }
  }

  @Test
  void badArgumentsAreRejected() {
    Tensor p = Tensor.of(new float[] {1f}).requiresGrad(true);
    assertThrows(IllegalArgumentException.class, () -> new SGD(List.of(p), -1));
    assertThrows(IllegalArgumentException.class, () -> new SGD(List.of(p.mul(2f)), 0.1)); // not a leaf
    assertThrows(IllegalArgumentException.class, () -> new SGD(List.of(p, p), 0.1));
    var e = assertThrows(IllegalStateException.class, () -> {
      SGD opt = new SGD(List.of(p), 0.1).nesterov(true);
      step(opt, p, 1f);
    });
    assertTrue(e.getMessage().contains("Nesterov"));
  }
}
