package dev.kiln.runtime.optim;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kiln.runtime.Tensor;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.function.Function;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;

/** Learning-rate schedules against PyTorch 1.13 (reference.txt), over two param groups. */
class SchedulerTest {
  private static final int EPOCHS = 8;
  private final Reference ref = Reference.get();

  /** An optimizer with two param groups at learning rates 0.1 and 0.05, as in the script. */
  private static SGD twoGroups() {
    SGD opt = new SGD(List.of(param()), 0.1);
    opt.addParamGroup(List.of(param()), 0.05);
    return opt;
  }

  private static Tensor param() {
    return Tensor.zeros(1).requiresGrad(true);
  }

  /** The epoch after whose step the "_by_hand" cases halve every group's rate, as the script does. */
  private static final int BY_HAND_AFTER = 2;

  /**
   * Steps the schedulers (in turn) EPOCHS times, comparing the groups' rates and the last
   * scheduler's with PyTorch's; with {@code byHand} every group's rate is halved after epoch
   * BY_HAND_AFTER's step, as in the tutorials' hand-made decay.
   */
  private void replay(String name, boolean byHand, Function<Optimizer, List<LRScheduler>> factory) {
    SGD opt = twoGroups();
    List<LRScheduler> scheds = factory.apply(opt);
    LRScheduler last = scheds.get(scheds.size() - 1);
    for (int epoch = 0; epoch <= EPOCHS; epoch++) {
      if (epoch > 0) {
        scheds.forEach(LRScheduler::step);
      }
      assertEquals(epoch, last.lastEpoch());
      double[] expected = ref.values(name, epoch);
      assertEquals(expected.length, last.getLastLr().size());
      for (int g = 0; g < expected.length; g++) {
        String what = name + " epoch " + epoch + " group " + g;
        Reference.assertClose(expected[g], last.getLastLr().get(g), what);
        assertEquals(last.getLastLr().get(g), opt.paramGroups().get(g).lr(), what + ": group lr");
      }
      if (byHand && epoch == BY_HAND_AFTER) {
        opt.paramGroups().forEach(g -> g.lr(g.lr() * 0.5));
      }
    }
  }

  /** The schedule alone, then with a rate halved by hand, which the next steps carry on from. */
  private void replay(String name, Function<Optimizer, LRScheduler> factory) {
    replay(name, false, opt -> List.of(factory.apply(opt)));
    replay(name + "_by_hand", true, opt -> List.of(factory.apply(opt)));
  }

  @Test
  void stepLR() {
    replay("steplr", opt -> new StepLR(opt, 2, 0.5));
  }

  @Test
  void multiStepLR() {
    replay("multisteplr", opt -> new MultiStepLR(opt, List.of(2, 5), 0.1));
  }

  @Test
  void exponentialLR() {
    replay("exponentiallr", opt -> new ExponentialLR(opt, 0.9));
  }

  /**
   * Over two periods of the cosine: the epoch after tMax takes PyTorch's other branch. A rate
   * changed by hand shows until tMax, where every rate is etaMin.
   */
  @Test
  void cosineAnnealingLR() {
    replay("cosineannealinglr", opt -> new CosineAnnealingLR(opt, 4, 0.001));
  }

  /** Epoch 0 is already base * lambda(0); a rate changed by hand lasts until the next step, as in PyTorch. */
  @Test
  void lambdaLR() {
    replay("lambdalr", opt -> new LambdaLR(opt, List.of(e -> Math.min(1.0, (e + 1) / 4.0), e -> Math.pow(0.9, e))));
  }

  @Test
  void multiplicativeLR() {
    replay("multiplicativelr", opt -> new MultiplicativeLR(opt, e -> e % 2 == 1 ? 0.95 : 0.8));
  }

  /** A rate set by hand below the cosine's floor would turn negative on its way back up: refused, changing nothing. */
  @Test
  void aStepToANegativeRateIsRefused() {
    SGD opt = twoGroups();
    CosineAnnealingLR sched = new CosineAnnealingLR(opt, 2, 0.01);
    sched.step();
    sched.step();
    sched.step();
    opt.paramGroups().forEach(g -> g.lr(0));
    var e = assertThrows(IllegalStateException.class, sched::step);
    assertTrue(e.getMessage().startsWith("CosineAnnealingLR: epoch 4 would set param group 0's learning rate to -0.01"),
        e.getMessage());
    assertEquals(3, sched.lastEpoch());
    assertEquals(0.0, opt.paramGroups().get(1).lr());
  }

  /** PyTorch's initial_lr: the cosine made after the warm-up changed the rates still anneals from the groups' first rates. */
  @Test
  void aLaterSchedulerTakesTheInitialRatesAsItsBase() {
    replay("warm_then_cosine", false,
        opt -> List.of(new LambdaLR(opt, e -> Math.min(1.0, (e + 1) / 3.0)), new CosineAnnealingLR(opt, 2)));
  }

  @Test
  void twoSchedulersOnOneOptimizerCompose() {
    replay("chained", false, opt -> List.of(new ExponentialLR(opt, 0.9), new MultiStepLR(opt, List.of(2, 5), 0.1)));
  }

  /**
   * A state saved before Kiln kept the last rates ({@code last_epoch} and {@code base_lrs} only)
   * still loads, the last rates then by the closed form; a saved state carries the last rates.
   */
  @Test
  void stateWithoutLastRatesGivesTheClosedForm() {
    StepLR saved = new StepLR(twoGroups(), 2, 0.5);
    for (int i = 0; i < 5; i++) {
      saved.step();
    }
    var state = new LinkedHashMap<>(saved.stateDict());
    assertEquals(List.of("last_epoch", "base_lrs.0", "base_lrs.1", "_last_lr.0", "_last_lr.1"), List.copyOf(state.keySet()));
    StepLR resumed = new StepLR(twoGroups(), 2, 0.5);
    resumed.loadStateDict(state);
    assertEquals(saved.getLastLr(), resumed.getLastLr());

    state.remove("_last_lr.0");
    state.remove("_last_lr.1");
    StepLR old = new StepLR(twoGroups(), 2, 0.5);
    old.loadStateDict(state);
    assertEquals(5, old.lastEpoch());
    assertEquals(List.of(0.1 * 0.25, 0.05 * 0.25), old.getLastLr());
  }

  @Test
  void defaultGammaIsATenthAndDefaultEtaMinZero() {
    SGD opt = twoGroups();
    StepLR step = new StepLR(opt, 1);
    step.step();
    assertEquals(List.of(0.1 * 0.1, 0.05 * 0.1), step.getLastLr());

    MultiStepLR multi = new MultiStepLR(twoGroups(), List.of(1));
    multi.step();
    assertEquals(List.of(0.1 * 0.1, 0.05 * 0.1), multi.getLastLr());

    CosineAnnealingLR cos = new CosineAnnealingLR(twoGroups(), 2);
    cos.step();
    cos.step();
    assertEquals(0.0, cos.getLastLr().get(0), 1e-18);
  }

  @Test
  void baseRatesAreTheGroupsRatesAtConstruction() {
    SGD opt = twoGroups();
    opt.paramGroups().forEach(g -> g.lr(g.lr() * 2));
    ExponentialLR sched = new ExponentialLR(opt, 0.5);
    assertEquals(List.of(0.2, 0.1), sched.baseLrs());
    assertEquals(List.of(0.2, 0.1), sched.getLastLr());
    assertEquals(0, sched.lastEpoch());
    sched.step();
    assertEquals(List.of(0.1, 0.05), sched.getLastLr());
  }

  @Test
  void schedulesAdam() {
    Tensor p = param();
    Adam adam = new Adam(List.of(p), 0.01);
    StepLR sched = new StepLR(adam, 1, 0.5);
    sched.step();
    assertEquals(0.005, adam.paramGroups().get(0).lr());
  }

  @Test
  void groupAddedAfterConstructionIsReported() {
    SGD opt = twoGroups();
    StepLR sched = new StepLR(opt, 1);
    opt.addParamGroup(List.of(param()), 0.3);
    var e = assertThrows(IllegalStateException.class, sched::step);
    assertTrue(e.getMessage().contains("has 3 param groups but had 2"), e.getMessage());
  }

  /** As PyTorch 1.13's Counter of milestones: [5, 3, 3] with gamma 0.5 gives 1, 1, 1, 0.25, 0.25, 0.125, 0.125. */
  @Test
  void multiStepMilestonesInAnyOrderAndRepeatedCountEachTime() {
    SGD opt = new SGD(List.of(param()), 1.0);
    MultiStepLR sched = new MultiStepLR(opt, List.of(5, 3, 3), 0.5);
    assertEquals(List.of(3, 3, 5), sched.milestones());
    double[] expected = {1, 1, 1, 0.25, 0.25, 0.125, 0.125};
    for (double lr : expected) {
      assertEquals(lr, opt.paramGroups().get(0).lr(), 1e-15);
      sched.step();
    }
  }

  @Test
  void badArgumentsAreRejected() {
    SGD opt = twoGroups();
    rejects("StepLR: step size must be >= 1, got 0", () -> new StepLR(opt, 0, 0.1));
    rejects("StepLR: gamma must be finite and >= 0, got -0.5", () -> new StepLR(opt, 2, -0.5));
    rejects("MultiStepLR: milestones must be a non-empty list", () -> new MultiStepLR(opt, List.of(), 0.1));
    rejects("MultiStepLR: milestones must be epochs >= 1, got [0, 2]", () -> new MultiStepLR(opt, List.of(0, 2), 0.1));
    rejects("ExponentialLR: gamma must be finite and >= 0, got NaN", () -> new ExponentialLR(opt, Double.NaN));
    rejects("CosineAnnealingLR: tMax must be >= 1, got 0", () -> new CosineAnnealingLR(opt, 0, 0.0));
    rejects("CosineAnnealingLR: etaMin must be finite and >= 0, got -0.001",
        () -> new CosineAnnealingLR(opt, 4, -0.001));
    rejects("LambdaLR: expected 2 function(s), one per param group, got 1", () -> new LambdaLR(opt, List.of(e -> 1.0)));
    LambdaLR negative = new LambdaLR(opt, e -> e < 2 ? 1.0 : -0.5);
    negative.step();
    var bad = assertThrows(IllegalStateException.class, negative::step);
    assertEquals("LambdaLR: the function of param group 0 gave -0.5 at epoch 2; a learning-rate factor must be finite and >= 0",
        bad.getMessage());
    assertEquals(1, negative.lastEpoch()); // the failed step changed nothing
    assertEquals(List.of(0.1, 0.05), List.of(opt.paramGroups().get(0).lr(), opt.paramGroups().get(1).lr()));
    var nan = assertThrows(IllegalStateException.class, new MultiplicativeLR(opt, List.of(e -> 1.0, e -> Double.NaN))::step);
    assertTrue(nan.getMessage().startsWith("MultiplicativeLR: the function of param group 1 gave NaN at epoch 1"), nan.getMessage());
    var e = assertThrows(NullPointerException.class, () -> new ExponentialLR(null, 0.9));
    assertTrue(e.getMessage().contains("ExponentialLR: optimizer is null"), e.getMessage());
  }

  private static void rejects(String message, Executable call) {
    var e = assertThrows(IllegalArgumentException.class, call);
    assertTrue(e.getMessage().contains(message), "message was: " + e.getMessage());
  }

  /** PyTorch warns once when lr_scheduler.step() comes before any optimizer.step(): so does Kiln, through its logger. */
  @Test
  void steppingBeforeTheOptimizerWarnsOnce() {
    java.util.logging.Logger logger = java.util.logging.Logger.getLogger("dev.kiln.runtime");
    List<String> logged = new java.util.ArrayList<>();
    java.util.logging.Handler capture = new java.util.logging.Handler() {
      @Override public void publish(java.util.logging.LogRecord r) {
        logged.add(r.getMessage());
      }

      @Override public void flush() {}

      @Override public void close() {}
    };
    logger.addHandler(capture);
    try {
      Tensor w = Tensor.ones(2).requiresGrad(true);
      SGD opt = new SGD(List.of(w), 0.1);
      StepLR early = new StepLR(opt, 1, 0.5);
      early.step();
      early.step();
      assertEquals(1, logged.stream().filter(m -> m.startsWith("StepLR.step() was called before the optimizer's step()")).count(),
          String.valueOf(logged));
      logged.clear();
      SGD stepped = new SGD(List.of(w), 0.1);
      w.setGrad(Tensor.ones(2));
      stepped.step();
      new StepLR(stepped, 1, 0.5).step();
      assertTrue(logged.isEmpty(), String.valueOf(logged));
    } finally {
      logger.removeHandler(capture);
    }
  }
}
