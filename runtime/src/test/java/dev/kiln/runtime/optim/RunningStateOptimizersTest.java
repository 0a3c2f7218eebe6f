package dev.kiln.runtime.optim;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kiln.runtime.Tensor;
import java.util.List;
import java.util.Map;
import java.util.function.Function;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;

/** RMSprop, Adagrad and Adadelta against PyTorch 1.13 (reference.txt), their state dicts, defaults and argument checks. */
class RunningStateOptimizersTest {
  private final Reference ref = Reference.get();

  @Test
  void rmspropMatchesPyTorch() {
    ref.replay("rmsprop_default", ps -> new RMSprop(ps, 0.01));
    ref.replay("rmsprop_centered_momentum",
        ps -> new RMSprop(ps, 0.01).alpha(0.9).eps(1e-6).weightDecay(0.1).momentum(0.8).centered(true));
    ref.replay("rmsprop_momentum", ps -> new RMSprop(ps, 0.02).momentum(0.5), (step, opt) -> {
      if (step == 3) {
        opt.paramGroups().forEach(g -> g.lr(g.lr() * 0.1));
      }
    });
  }

  @Test
  void adagradMatchesPyTorch() {
    ref.replay("adagrad_default", ps -> new Adagrad(ps, 0.1));
    ref.replay("adagrad_decay",
        ps -> new Adagrad(ps, 0.2).lrDecay(0.3).weightDecay(0.05).initialAccumulatorValue(0.4).eps(1e-6));
  }

  @Test
  void adadeltaMatchesPyTorch() {
    ref.replay("adadelta_default", ps -> new Adadelta(ps, 1.0));
    ref.replay("adadelta_wd", ps -> new Adadelta(ps, 0.5).rho(0.8).eps(1e-5).weightDecay(0.1));
  }

  /** 256 values over 5 steps, bit for bit: the rounding order of every update (PyTorch's fused addcmul_) is PyTorch's. */
  @Test
  void bulkStepsGivePyTorchsBits() {
    ref.replayBulk("bulk_adam", ps -> new Adam(ps, 0.01).weightDecay(0.05));
    ref.replayBulk("bulk_adamw", ps -> new AdamW(ps, 0.01).amsgrad(true));
    ref.replayBulk("bulk_rmsprop", ps -> new RMSprop(ps, 0.01).centered(true).momentum(0.9).weightDecay(0.01));
    ref.replayBulk("bulk_adagrad", ps -> new Adagrad(ps, 0.1).lrDecay(0.01).weightDecay(0.01));
    ref.replayBulk("bulk_adadelta", ps -> new Adadelta(ps, 1.0).weightDecay(0.01));
  }

  @Test
  void stateDictUsesPyTorchsNamesAndKeepsOnlyWhatTheSettingsNeed() {
    assertEquals(List.of("state.0.step", "state.0.square_avg", "param_groups.0.lr", "param_groups.0.params"),
        keysAfterOneStep(ps -> new RMSprop(ps, 0.01)));
    assertEquals(List.of("state.0.step", "state.0.square_avg", "state.0.momentum_buffer", "state.0.grad_avg",
        "param_groups.0.lr", "param_groups.0.params"), keysAfterOneStep(ps -> new RMSprop(ps, 0.01).momentum(0.9).centered(true)));
    assertEquals(List.of("state.0.step", "state.0.sum", "param_groups.0.lr", "param_groups.0.params"),
        keysAfterOneStep(ps -> new Adagrad(ps, 0.01)));
    assertEquals(List.of("state.0.step", "state.0.square_avg", "state.0.acc_delta", "param_groups.0.lr", "param_groups.0.params"),
        keysAfterOneStep(ps -> new Adadelta(ps, 1.0)));
  }

  private static List<String> keysAfterOneStep(Function<List<Tensor>, Optimizer> factory) {
    Tensor p = Tensor.of(new float[] {1f, 2f}).requiresGrad(true);
    Optimizer opt = factory.apply(List.of(p));
    assertTrue(opt.stateDict().keySet().stream().noneMatch(k -> k.startsWith("state.")), "no state before a step");
    p.setGrad(Tensor.of(new float[] {0.5f, -0.25f}));
    opt.step();
    return List.copyOf(opt.stateDict().keySet());
  }

  /** A state saved mid-run and loaded into a fresh optimizer carries on as if never interrupted, bit for bit. */
  @Test
  void aLoadedStateCarriesOnExactly() {
    List<Function<List<Tensor>, Optimizer>> factories = List.of(
        ps -> new RMSprop(ps, 0.01).momentum(0.9).centered(true).weightDecay(0.01),
        ps -> new Adagrad(ps, 0.1).lrDecay(0.2).initialAccumulatorValue(0.3),
        ps -> new Adadelta(ps, 1.0).rho(0.95));
    for (var factory : factories) {
      Tensor unbroken = ref.tensor("init", 0).requiresGrad(true);
      Optimizer all = factory.apply(List.of(unbroken));
      Tensor resumed = ref.tensor("init", 0).requiresGrad(true);
      Optimizer first = factory.apply(List.of(resumed));
      Map<String, Tensor> saved = null;
      Optimizer second = null;
      for (int step = 1; step <= Reference.STEPS; step++) {
        unbroken.setGrad(ref.tensor("grad", step));
        all.step();
        if (step == 3) { // stop the second run here and go on with a fresh optimizer loaded from its state
          saved = first.stateDict();
          second = factory.apply(List.of(resumed));
          second.loadStateDict(saved);
        }
        resumed.setGrad(ref.tensor("grad", step));
        (step < 3 ? first : second).step();
        if (step == 2) {
          first.stateDict(); // reading the state changes nothing
        }
      }
      assertArrayEquals(unbroken.toFloatArray(), resumed.toFloatArray(), all.getClass().getSimpleName());
      assertEquals(2L, dev.kiln.runtime.io.StateEncoding.toLong(saved, "state.0.step")); // saved after two steps
    }
  }

  /** Adagrad's rate decays with each parameter's own step count, as in PyTorch (state per parameter). */
  @Test
  void adagradDecaysByEachParametersOwnStep() {
    Tensor a = Tensor.of(new float[] {1f}).requiresGrad(true);
    Tensor b = Tensor.of(new float[] {2f}).requiresGrad(true);
    Adagrad opt = new Adagrad(List.of(a, b), 0.1).lrDecay(1.0);
    for (int step = 1; step <= 3; step++) {
      a.setGrad(Tensor.of(new float[] {1f}));
      opt.step();
    }
    b.setGrad(Tensor.of(new float[] {0.5f}));
    opt.step(); // b's first step: clr = lr, the move lr * g / (|g| + eps)
    assertEquals(2.0 - 0.1 * 0.5 / (0.5 + 1e-10), b.item(), 1e-6);
  }

  @Test
  void defaultsAreTorchs() {
    List<Tensor> ps = List.of(Tensor.of(new float[] {1f}).requiresGrad(true));
    RMSprop r = new RMSprop(ps, 0.01);
    assertEquals(0.99, r.alpha());
    assertEquals(1e-8, r.eps());
    assertEquals(0.0, r.weightDecay());
    assertEquals(0.0, r.momentum());
    assertFalse(r.centered());
    Adagrad g = new Adagrad(ps, 0.01);
    assertEquals(0.0, g.lrDecay());
    assertEquals(0.0, g.weightDecay());
    assertEquals(0.0, g.initialAccumulatorValue());
    assertEquals(1e-10, g.eps());
    Adadelta d = new Adadelta(ps, 1.0);
    assertEquals(0.9, d.rho());
    assertEquals(1e-6, d.eps());
    assertEquals(0.0, d.weightDecay());
  }

  @Test
  void badArgumentsAreRejectedWithTheirName() {
    List<Tensor> ps = List.of(Tensor.of(new float[] {1f}).requiresGrad(true));
    rejects("RMSprop: learning rate must be finite and >= 0, got -0.1", () -> new RMSprop(ps, -0.1));
    rejects("Adagrad: learning rate must be finite and >= 0, got NaN", () -> new Adagrad(ps, Double.NaN));
    rejects("Adadelta: learning rate must be finite and >= 0, got Infinity", () -> new Adadelta(ps, Double.POSITIVE_INFINITY));
    rejects("RMSprop: alpha must be finite and >= 0, got -0.5", () -> new RMSprop(ps, 0.1).alpha(-0.5));
    rejects("RMSprop: momentum must be finite and >= 0, got NaN", () -> new RMSprop(ps, 0.1).momentum(Double.NaN));
    rejects("RMSprop: eps must be finite and >= 0, got -1.0", () -> new RMSprop(ps, 0.1).eps(-1));
    rejects("Adagrad: lr decay must be finite and >= 0, got -0.1", () -> new Adagrad(ps, 0.1).lrDecay(-0.1));
    rejects("Adagrad: initial accumulator value must be finite and >= 0, got -1.0",
        () -> new Adagrad(ps, 0.1).initialAccumulatorValue(-1));
    rejects("Adadelta: rho must be in [0, 1], got 1.5", () -> new Adadelta(ps, 1.0).rho(1.5));
    rejects("Adadelta: weight decay must be finite and >= 0, got -0.01", () -> new Adadelta(ps, 1.0).weightDecay(-0.01));
    var e = assertThrows(IllegalArgumentException.class, () -> {
      Adagrad a = new Adagrad(ps, 0.1);
      a.loadStateDict(Map.of("state.0.exp_avg", Tensor.of(new float[] {1f}), "param_groups.0.lr", Tensor.of(new float[] {0.1f})));
    });
    assertTrue(e.getMessage().startsWith("Adagrad: "), e.getMessage());
  }

  private static void rejects(String message, Executable call) {
    var e = assertThrows(IllegalArgumentException.class, call);
    assertTrue(e.getMessage().contains(message), "message was: " + e.getMessage());
  }
}
