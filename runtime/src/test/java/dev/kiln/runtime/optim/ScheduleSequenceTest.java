package dev.kiln.runtime.optim;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kiln.runtime.Tensor;
import java.util.List;
import java.util.Map;
import java.util.function.Function;
import java.util.function.Supplier;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;

/**
 * LinearLR, ConstantLR, PolynomialLR, CosineAnnealingWarmRestarts, OneCycleLR, CyclicLR,
 * SequentialLR and ChainedScheduler against PyTorch 1.13's sequences (optim/schedules.txt, from
 * make_schedules.py): every rate after every step, to 1e-12 relative (the same double arithmetic;
 * Math.cos and pow may differ from C's by an ulp), the momentum the cycling ones set, a resume from
 * a state dict half-way, and the errors.
 */
class ScheduleSequenceTest {
  private static final double RTOL = 1e-12;
  private static final int BY_HAND_AFTER = 2;
  private final Reference ref = Reference.schedules();

  private static Tensor param() {
    return Tensor.zeros(1).requiresGrad(true);
  }

  /** Two param groups at 0.1 and 0.05 of an SGD with momentum 0.9, as the script's sgd(). */
  private static Optimizer sgd() {
    SGD opt = new SGD(List.of(param()), 0.1).momentum(0.9);
    opt.addParamGroup(List.of(param()), 0.05);
    return opt;
  }

  /** The script's adam(). */
  private static Optimizer adam() {
    Adam opt = new Adam(List.of(param()), 0.1);
    opt.addParamGroup(List.of(param()), 0.05);
    return opt;
  }

  private record Case(String name, Supplier<Optimizer> opt, Function<Optimizer, SteppedScheduler> sched, int steps,
      boolean byHand, boolean momentum) {}

  private static Case c(String name, Function<Optimizer, SteppedScheduler> sched, int steps) {
    return new Case(name, ScheduleSequenceTest::sgd, sched, steps, name.endsWith("_by_hand"), false);
  }

  private static Case withMomentum(String name, Supplier<Optimizer> opt, Function<Optimizer, SteppedScheduler> sched,
      int steps) {
    return new Case(name, opt, sched, steps, false, true);
  }

  private static SequentialLR warmupCosine(Optimizer o) {
    return new SequentialLR(o, List.of(new LinearLR(o, 0.1, 1.0, 3), new CosineAnnealingLR(o, 10, 0.001)), List.of(3));
  }

  /** The script's CASES, with the same settings. */
  private static final List<Case> CASES = List.of(
      c("linearlr", o -> new LinearLR(o, 0.25, 1.0, 4), 10),
      c("linearlr_by_hand", o -> new LinearLR(o, 0.25, 1.0, 4), 10),
      c("linearlr_down", o -> new LinearLR(o, 1.0, 0.1, 6), 10),
      c("constantlr", o -> new ConstantLR(o, 0.5, 4), 8),
      c("constantlr_by_hand", o -> new ConstantLR(o, 0.5, 4), 8),
      c("polynomiallr", o -> new PolynomialLR(o, 6, 2.0), 9),
      c("polynomiallr_by_hand", o -> new PolynomialLR(o, 6, 2.0), 9),
      c("cawr", o -> new CosineAnnealingWarmRestarts(o, 3, 2, 0.001), 30),
      c("cawr_tmult1", o -> new CosineAnnealingWarmRestarts(o, 4), 13),
      c("cawr_by_hand", o -> new CosineAnnealingWarmRestarts(o, 3, 2, 0.001), 10),
      withMomentum("onecycle_cos", ScheduleSequenceTest::sgd, o -> OneCycleLR.builder(o, 0.5, 0.2).totalSteps(20).build(), 20),
      withMomentum("onecycle_linear_three", ScheduleSequenceTest::adam, o -> OneCycleLR.builder(o, 0.3).epochs(4, 5)
          .pctStart(0.25).anneal(OneCycleLR.Anneal.LINEAR).divFactor(10).finalDivFactor(100).threePhase(true)
          .baseMomentum(0.8).maxMomentum(0.9).build(), 20),
      c("onecycle_no_momentum", o -> OneCycleLR.builder(o, 0.4).totalSteps(12).pctStart(0.5).cycleMomentum(false).build(), 12),
      withMomentum("cyclic_triangular", ScheduleSequenceTest::sgd,
          o -> CyclicLR.builder(o, 0.01, 0.1).stepSizeUp(3).stepSizeDown(2).build(), 30),
      withMomentum("cyclic_triangular2", ScheduleSequenceTest::sgd, o -> CyclicLR.builder(o, new double[] {0.01, 0.02},
          new double[] {0.1, 0.3}).stepSizeUp(4).mode(CyclicLR.Mode.TRIANGULAR2).baseMomentum(0.7).maxMomentum(0.95).build(), 30),
      c("cyclic_exp_range", o -> CyclicLR.builder(o, 0.01, 0.1).stepSizeUp(3).mode(CyclicLR.Mode.EXP_RANGE).gamma(0.95)
          .cycleMomentum(false).build(), 30),
      c("sequential_warmup_cosine", ScheduleSequenceTest::warmupCosine, 20),
      c("sequential_three", o -> new SequentialLR(o, List.of(new ConstantLR(o, 0.5, 2), new ExponentialLR(o, 0.9),
          new StepLR(o, 3, 0.5)), List.of(3, 7)), 15),
      c("sequential_linear_second", o -> new SequentialLR(o, List.of(new ExponentialLR(o, 0.9),
          new LinearLR(o, 0.5, 1.0, 3)), List.of(4)), 10),
      c("sequential_by_hand", ScheduleSequenceTest::warmupCosine, 12),
      c("chained", o -> new ChainedScheduler(List.of(new ConstantLR(o, 0.5, 3), new ExponentialLR(o, 0.9))), 10),
      c("chained_by_hand", o -> new ChainedScheduler(List.of(new LinearLR(o, 0.5, 1.0, 4), new StepLR(o, 3, 0.5))), 10));

  private static void assertNear(double expected, double actual, String what) {
    assertTrue(Math.abs(actual - expected) <= RTOL * Math.abs(expected) + 1e-300,
        what + ": expected " + expected + " (PyTorch), got " + actual);
  }

  /** Compares the scheduler's rates (and the groups' momenta) after {@code step} with PyTorch's. */
  private void check(Case k, int step, Optimizer opt, SteppedScheduler sched) {
    double[] expected = ref.values(k.name(), step);
    List<Double> lrs = sched.getLastLr();
    assertEquals(expected.length, lrs.size(), k.name());
    for (int g = 0; g < expected.length; g++) {
      String what = k.name() + " step " + step + " group " + g;
      // OneCycleLR's last allowed step is past the cycle: PyTorch's linear anneal goes negative there, Kiln's stops at 0
      double want = k.name().startsWith("onecycle") ? Math.max(0, expected[g]) : expected[g];
      assertNear(want, lrs.get(g), what);
      assertEquals(lrs.get(g), opt.paramGroups().get(g).lr(), what + ": the group's rate");
    }
    if (k.momentum()) {
      double[] m = ref.values(k.name() + ".momentum", step);
      for (int g = 0; g < m.length; g++) {
        assertNear(m[g], opt.paramGroups().get(g).momentum(), k.name() + " step " + step + " group " + g + " momentum");
      }
    }
  }

  /** Steps from {@code from} (exclusive) to the case's end, comparing each step. */
  private void run(Case k, Optimizer opt, SteppedScheduler sched, int from) {
    for (int step = from + 1; step <= k.steps(); step++) {
      opt.step();
      sched.step();
      check(k, step, opt, sched);
      if (k.byHand() && step == BY_HAND_AFTER) {
        opt.paramGroups().forEach(g -> g.lr(g.lr() * 0.5));
      }
    }
  }

  @Test
  void everyCaseFollowsPyTorch() {
    for (Case k : CASES) {
      Optimizer opt = k.opt().get();
      SteppedScheduler sched = k.sched().apply(opt);
      check(k, 0, opt, sched);
      run(k, opt, sched, 0);
    }
  }

  /**
   * Half-way through, the optimizer's and the scheduler's state dicts go into a new optimizer and
   * scheduler built the same way, which go on with PyTorch's rates.
   */
  @Test
  void aResumedScheduleGoesOnTheSame() {
    for (Case k : CASES) {
      int half = Math.max(BY_HAND_AFTER + 1, k.steps() / 2);
      Optimizer opt = k.opt().get();
      SteppedScheduler sched = k.sched().apply(opt);
      for (int step = 1; step <= half; step++) {
        opt.step();
        sched.step();
        if (k.byHand() && step == BY_HAND_AFTER) {
          opt.paramGroups().forEach(g -> g.lr(g.lr() * 0.5));
        }
      }
      Map<String, Tensor> optState = opt.stateDict();
      Map<String, Tensor> schedState = sched.stateDict();
      Optimizer opt2 = k.opt().get();
      SteppedScheduler sched2 = k.sched().apply(opt2);
      opt2.loadStateDict(optState);
      sched2.loadStateDict(schedState);
      assertEquals(sched.getLastLr(), sched2.getLastLr(), k.name() + ": last rates after loading");
      run(k, opt2, sched2, half);
    }
  }

  /** Every case through a checkpoint file half-way ({@code Checkpoint.save} / {@code load}), going on with PyTorch's rates. */
  @Test
  void aCheckpointFileCarriesEverySchedule(@org.junit.jupiter.api.io.TempDir java.nio.file.Path dir) throws Exception {
    for (Case k : CASES) {
      int half = Math.max(BY_HAND_AFTER + 1, k.steps() / 2);
      Optimizer opt = k.opt().get();
      SteppedScheduler sched = k.sched().apply(opt);
      run(new Case(k.name(), k.opt(), k.sched(), half, k.byHand(), k.momentum()), opt, sched, 0);
      java.nio.file.Path file = dir.resolve(k.name() + ".safetensors");
      Map<String, Tensor> model = Map.of("w", Tensor.of(new float[] {1f}));
      dev.kiln.runtime.io.Checkpoint.save(file, model, opt, sched, half);
      Optimizer opt2 = k.opt().get();
      SteppedScheduler sched2 = k.sched().apply(opt2);
      assertEquals(half, dev.kiln.runtime.io.Checkpoint.load(file, m -> {}, opt2, sched2), k.name());
      run(k, opt2, sched2, half);
    }
  }

  @Test
  void oneCycleRefusesAStepPastTotalSteps() {
    for (Case k : CASES) {
      if (!k.name().startsWith("onecycle")) {
        continue;
      }
      // PyTorch counts its construction's step too: the refused call is the (steps + 2)-th
      assertTrue(ref.has(k.name() + ".error", k.steps() + 1), k.name() + ": PyTorch refused the step");
      Optimizer opt = k.opt().get();
      SteppedScheduler sched = k.sched().apply(opt);
      run(k, opt, sched, 0);
      List<Double> before = sched.getLastLr();
      IllegalStateException e = assertThrows(IllegalStateException.class, sched::step);
      assertEquals("OneCycleLR: tried to step " + (k.steps() + 2) + " times; the specified number of total steps is "
          + k.steps(), e.getMessage());
      assertEquals(before, sched.getLastLr(), "a refused step changes nothing");
    }
  }

  /** {@code step(epoch + batch / 4)}, as PyTorch's docs step CosineAnnealingWarmRestarts per batch. */
  @Test
  void warmRestartsTakeFractionalEpochs() {
    Optimizer opt = sgd();
    CosineAnnealingWarmRestarts sched = new CosineAnnealingWarmRestarts(opt, 3, 2, 0.001);
    int step = 0;
    for (int epoch = 0; epoch < 12; epoch++) {
      for (int batch = 0; batch < 4; batch++, step++) {
        opt.step();
        sched.step(epoch + batch / 4.0);
        double[] expected = ref.values("cawr_fractional", step);
        for (int g = 0; g < expected.length; g++) {
          assertNear(expected[g], sched.getLastLr().get(g), "cawr_fractional step " + step + " group " + g);
        }
        assertEquals((int) ref.values("cawr_fractional.epoch", step)[0], sched.lastEpoch());
      }
    }
    assertThrows(IllegalArgumentException.class, () -> sched.step(-0.5));
  }

  /** A group's momentum, as OneCycleLR and CyclicLR set it, is the one SGD and Adam step with. */
  @Test
  void aGroupsMomentumIsTheOneUsed() {
    for (boolean isAdam : new boolean[] {false, true}) {
      Tensor a = Tensor.of(new float[] {1f, -2f}).requiresGrad(true);
      Tensor b = Tensor.of(new float[] {1f, -2f}).requiresGrad(true);
      Optimizer own = isAdam ? new Adam(List.of(a), 0.1).betas(0.7, 0.999) : new SGD(List.of(a), 0.1).momentum(0.7);
      Optimizer overridden = isAdam ? new Adam(List.of(b), 0.1) : new SGD(List.of(b), 0.1).momentum(0.9);
      overridden.paramGroups().get(0).momentum(0.7);
      for (int i = 0; i < 3; i++) {
        a.setGrad(Tensor.of(new float[] {0.5f, 1f + i}));
        b.setGrad(Tensor.of(new float[] {0.5f, 1f + i}));
        own.step();
        overridden.step();
      }
      assertArrayEquals(a.toFloatArray(), b.toFloatArray(), 0f, isAdam ? "Adam" : "SGD");
    }
  }

  private static void assertRefused(String message, Executable make) {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, make);
    assertEquals(message, e.getMessage());
  }

  @Test
  void badArgumentsAreNamed() {
    Optimizer o = sgd();
    assertRefused("LinearLR: startFactor must be in (0, 1] (a multiplicative factor), got 1.5", () -> new LinearLR(o, 1.5, 1.0, 4));
    assertRefused("LinearLR: endFactor must be in [0, 1] (a multiplicative factor), got -0.1", () -> new LinearLR(o, 0.5, -0.1, 4));
    assertRefused("LinearLR: totalIters must be >= 1, got 0", () -> new LinearLR(o, 0.5, 1.0, 0));
    assertRefused("ConstantLR: factor must be in (0, 1] (a multiplicative factor), got 2.0", () -> new ConstantLR(o, 2.0, 4));
    assertRefused("PolynomialLR: power must be finite and >= 0, got -1.0", () -> new PolynomialLR(o, 4, -1));
    assertRefused("CosineAnnealingWarmRestarts: expected a positive integer T_0, got 0", () -> new CosineAnnealingWarmRestarts(o, 0));
    assertRefused("CosineAnnealingWarmRestarts: expected an integer T_mult >= 1, got 0",
        () -> new CosineAnnealingWarmRestarts(o, 3, 0, 0));
    assertRefused("OneCycleLR: define either totalSteps or (epochs and stepsPerEpoch)", () -> OneCycleLR.builder(o, 0.1).build());
    assertRefused("OneCycleLR: totalSteps must be >= 1, got 0", () -> OneCycleLR.builder(o, 0.1).totalSteps(0).build());
    assertRefused("OneCycleLR: expected pctStart between 0 and 1, got 1.5",
        () -> OneCycleLR.builder(o, 0.1).totalSteps(10).pctStart(1.5).build());
    assertRefused("OneCycleLR: expected 2 values for maxLr, got 3", () -> OneCycleLR.builder(o, 0.1, 0.2, 0.3).totalSteps(10).build());
    Optimizer adagrad = new Adagrad(List.of(param()), 0.1);
    assertRefused("OneCycleLR: Adagrad has no momentum or betas to cycle; pass cycleMomentum(false)",
        () -> OneCycleLR.builder(adagrad, 0.1).totalSteps(10).build());
    assertRefused("CyclicLR: Adam has no momentum to cycle (PyTorch 1.13's CyclicLR needs one: SGD); pass cycleMomentum(false)",
        () -> CyclicLR.builder(adam(), 0.01, 0.1).build());
    assertRefused("CyclicLR: stepSizeUp must be >= 1, got 0", () -> CyclicLR.builder(o, 0.01, 0.1).stepSizeUp(0).build());
    assertRefused("SequentialLR: expects the number of schedulers to be one more than the number of milestones, but got 2"
        + " scheduler(s) and 2 milestone(s)",
        () -> new SequentialLR(o, List.of(new StepLR(o, 2), new StepLR(o, 3)), List.of(2, 4)));
    assertRefused("SequentialLR: milestones must be increasing epochs >= 1, got [5, 3]",
        () -> new SequentialLR(o, List.of(new StepLR(o, 2), new StepLR(o, 3), new StepLR(o, 4)), List.of(5, 3)));
    Optimizer other = sgd();
    assertRefused("SequentialLR: expects all schedulers to belong to the same optimizer, but got the scheduler at index 1 to"
        + " be of a different optimizer", () -> new SequentialLR(o, List.of(new StepLR(o, 2), new StepLR(other, 3)), List.of(2)));
    assertRefused("ChainedScheduler: expects all schedulers to belong to the same optimizer, but got schedulers at index 0 and"
        + " 1 to be different", () -> new ChainedScheduler(List.of(new StepLR(o, 2), new StepLR(other, 3))));
  }

  @Test
  void aStateOfTheWrongShapeIsRefused() {
    Optimizer o = sgd();
    SequentialLR seq = warmupCosine(o);
    seq.step();
    Map<String, Tensor> state = new java.util.LinkedHashMap<>(seq.stateDict());
    state.put("_schedulers.2.last_epoch", state.get("last_epoch"));
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> warmupCosine(sgd()).loadStateDict(state));
    assertEquals("SequentialLR: unexpected key _schedulers.2.last_epoch for 2 scheduler(s)", e.getMessage());
    Map<String, Tensor> noT = new java.util.LinkedHashMap<>(new CosineAnnealingWarmRestarts(sgd(), 3).stateDict());
    noT.remove("T_cur");
    e = assertThrows(IllegalArgumentException.class, () -> new CosineAnnealingWarmRestarts(sgd(), 3).loadStateDict(noT));
    assertTrue(e.getMessage().startsWith("CosineAnnealingWarmRestarts: ") && e.getMessage().contains("T_cur"), e.getMessage());
  }
}
