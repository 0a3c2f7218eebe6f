package dev.kiln.runtime.optim;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kiln.runtime.Tensor;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;

/** Adam and AdamW against PyTorch 1.13 (reference.txt), plus defaults and argument checks. */
class AdamTest {
  private final Reference ref = Reference.get();

  @Test
  void adamDefaultMatchesPyTorch() {
    ref.replay("adam_default", ps -> new Adam(ps, 0.05));
  }

  @Test
  void adamWithWeightDecayAndAmsgradMatchesPyTorch() {
    ref.replay("adam_wd_amsgrad",
        ps -> new Adam(ps, 0.05).betas(0.8, 0.9).eps(1e-6).weightDecay(0.1).amsgrad(true));
  }

  @Test
  void adamFollowsLearningRateChangedByHandBetweenSteps() {
    ref.replay("adam_lr_change", ps -> new Adam(ps, 0.1), (step, opt) -> {
      if (step == 3) {
        opt.paramGroups().forEach(g -> g.lr(g.lr() * 0.1));
      }
    });
  }

  @Test
  void adamWDefaultMatchesPyTorch() {
    ref.replay("adamw_default", ps -> new AdamW(ps, 0.05));
  }

  @Test
  void adamWMatchesPyTorch() {
    ref.replay("adamw", ps -> new AdamW(ps, 0.05).betas(0.85, 0.995).eps(1e-7).weightDecay(0.2));
  }

  @Test
  void defaultsAreTorchs() {
    Adam adam = new Adam(List.of(param(1f)), 1e-3);
    assertEquals(0.9, adam.beta1());
    assertEquals(0.999, adam.beta2());
    assertEquals(1e-8, adam.eps());
    assertEquals(0.0, adam.weightDecay());
    assertFalse(adam.amsgrad());
    assertEquals(0.01, new AdamW(List.of(param(1f)), 1e-3).weightDecay());
  }

  @Test
  void stepIsCountedPerParameter() {
    // b gets its first gradient at the optimizer's third step: its bias correction uses t = 1,
    // so its first move is lr * g / (|g| + eps), as for a fresh optimizer.
    Tensor a = param(1f);
    Tensor b = param(2f);
    Adam opt = new Adam(List.of(a, b), 0.1);
    for (int step = 1; step <= 3; step++) {
      a.setGrad(Tensor.of(new float[] {1f}));
      opt.step();
    }
    assertEquals(2f, b.item());
    b.setGrad(Tensor.of(new float[] {0.5f}));
    opt.step();
    assertEquals(2.0 - 0.1 * 0.5 / (0.5 + 1e-8), b.item(), 1e-6);
  }

  @Test
  void badArgumentsAreRejectedWithTheirName() {
    Tensor p = param(1f);
    List<Tensor> ps = List.of(p);
    rejects("Adam: learning rate must be finite and >= 0, got -0.1", () -> new Adam(ps, -0.1));
    rejects("AdamW: learning rate must be finite and >= 0, got NaN", () -> new AdamW(ps, Double.NaN));
    rejects("Adam: beta1 must be in [0, 1), got 1.0", () -> new Adam(ps, 0.1).betas(1.0, 0.999));
    rejects("Adam: beta1 must be in [0, 1), got -0.5", () -> new Adam(ps, 0.1).betas(-0.5, 0.999));
    rejects("AdamW: beta2 must be in [0, 1), got 1.5", () -> new AdamW(ps, 0.1).betas(0.9, 1.5));
    rejects("Adam: beta2 must be in [0, 1), got NaN", () -> new Adam(ps, 0.1).betas(0.9, Double.NaN));
    rejects("Adam: eps must be finite and >= 0, got -1.0E-8", () -> new Adam(ps, 0.1).eps(-1e-8));
    rejects("Adam: weight decay must be finite and >= 0, got -0.01", () -> new Adam(ps, 0.1).weightDecay(-0.01));
    rejects("AdamW: weight decay must be finite and >= 0, got Infinity",
        () -> new AdamW(ps, 0.1).weightDecay(Double.POSITIVE_INFINITY));
    rejects("Adam: got an empty parameter list", () -> new Adam(List.of(), 0.1));
    Tensor computed = Tensor.of(new float[] {1f}).requiresGrad(true).mul(2f);
    rejects("Adam: parameter 0 is not a leaf tensor (it was computed from others)", () -> new Adam(List.of(computed), 0.1));
  }

  @Test
  void badSettingsLeaveTheOldOnes() {
    Adam adam = new Adam(List.of(param(1f)), 0.1).betas(0.8, 0.9);
    assertThrows(IllegalArgumentException.class, () -> adam.betas(0.5, 1.0));
    assertEquals(0.8, adam.beta1());
    assertEquals(0.9, adam.beta2());
  }

  private static Tensor param(float value) {
    return Tensor.of(new float[] {value}).requiresGrad(true);
  }

  private static void rejects(String message, Executable call) {
    var e = assertThrows(IllegalArgumentException.class, call);
    assertTrue(e.getMessage().contains(message), "message was: " + e.getMessage());
  }
}
