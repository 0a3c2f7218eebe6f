package dev.kiln.runtime.optim;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kiln.runtime.Tensor;
import dev.kiln.runtime.optim.ReduceLROnPlateau.Mode;
import dev.kiln.runtime.optim.ReduceLROnPlateau.ThresholdMode;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.function.Function;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;

/** ReduceLROnPlateau against PyTorch 1.13 (reference.txt: the rates after each step on plateau_metrics). */
class ReduceLROnPlateauTest {
  private final Reference ref = Reference.get();

  private static SGD twoGroups() {
    SGD opt = new SGD(List.of(Tensor.zeros(1).requiresGrad(true)), 0.1);
    opt.addParamGroup(List.of(Tensor.zeros(1).requiresGrad(true)), 0.05);
    return opt;
  }

  private double[] metrics() {
    List<Double> out = new ArrayList<>();
    for (int epoch = 1; ref.has("plateau_metrics", epoch); epoch++) {
      out.add(ref.values("plateau_metrics", epoch)[0]);
    }
    return out.stream().mapToDouble(Double::doubleValue).toArray();
  }

  /** Steps on every metric, comparing each group's rate with PyTorch's after each step. */
  private void replay(String name, Function<Optimizer, ReduceLROnPlateau> factory) {
    SGD opt = twoGroups();
    ReduceLROnPlateau sched = factory.apply(opt);
    double[] metrics = metrics();
    assertTrue(metrics.length >= 30, "plateau_metrics: " + metrics.length);
    for (int epoch = 0; epoch <= metrics.length; epoch++) {
      if (epoch > 0) {
        sched.step(metrics[epoch - 1]);
      }
      double[] expected = ref.values(name, epoch);
      for (int g = 0; g < expected.length; g++) {
        String what = name + " epoch " + epoch + " group " + g;
        Reference.assertClose(expected[g], opt.paramGroups().get(g).lr(), what);
        assertEquals(opt.paramGroups().get(g).lr(), sched.getLastLr().get(g), what + ": getLastLr");
      }
    }
    assertEquals(metrics.length, sched.lastEpoch());
  }

  @Test
  void pyTorchDefaults() {
    replay("plateau_default", ReduceLROnPlateau::new);
  }

  @Test
  void patienceCooldownAndMinimumRatesPerGroup() {
    replay("plateau_min", opt -> new ReduceLROnPlateau(opt).factor(0.5).patience(2).cooldown(1).minLrs(0.02, 0.001));
  }

  @Test
  void maxModeWithAnAbsoluteThreshold() {
    replay("plateau_max_abs",
        opt -> new ReduceLROnPlateau(opt).mode(Mode.MAX).factor(0.1).patience(1).threshold(0.05, ThresholdMode.ABS));
  }

  /** A reduction smaller than eps is not made. */
  @Test
  void reductionsBelowEpsAreSkipped() {
    replay("plateau_eps", opt -> new ReduceLROnPlateau(opt).patience(0).eps(0.01));
  }

  @Test
  void aNanMetricIsABadEpoch() {
    SGD opt = twoGroups();
    ReduceLROnPlateau sched = new ReduceLROnPlateau(opt).patience(1);
    sched.step(1.0);
    sched.step(Double.NaN);
    assertEquals(1, sched.numBadEpochs());
    sched.step(Double.NaN);
    assertEquals(List.of(0.1 * 0.1, 0.05 * 0.1), sched.getLastLr());
    assertEquals(1.0, sched.best());
  }

  /** The state carries the counters and rates; a resumed scheduler goes on as the unbroken one. */
  @Test
  void resumesExactlyFromItsState() {
    double[] metrics = metrics();
    SGD opt = twoGroups();
    ReduceLROnPlateau unbroken = new ReduceLROnPlateau(opt).factor(0.5).patience(2).cooldown(1);
    SGD firstOpt = twoGroups();
    ReduceLROnPlateau first = new ReduceLROnPlateau(firstOpt).factor(0.5).patience(2).cooldown(1);
    for (int i = 0; i < 9; i++) {
      unbroken.step(metrics[i]);
      first.step(metrics[i]);
    }
    SGD resumedOpt = twoGroups();
    resumedOpt.loadStateDict(firstOpt.stateDict());
    ReduceLROnPlateau resumed = new ReduceLROnPlateau(resumedOpt).factor(0.5).patience(2).cooldown(1);
    resumed.loadStateDict(first.stateDict());
    assertEquals(first.getLastLr(), resumed.getLastLr());
    for (int i = 9; i < metrics.length; i++) {
      unbroken.step(metrics[i]);
      resumed.step(metrics[i]);
      assertEquals(unbroken.getLastLr(), resumed.getLastLr(), "after metric " + i);
      assertEquals(unbroken.numBadEpochs(), resumed.numBadEpochs(), "after metric " + i);
    }
  }

  @Test
  void badStatesAndSettingsAreRejected() {
    ReduceLROnPlateau sched = new ReduceLROnPlateau(twoGroups());
    var state = new LinkedHashMap<>(sched.stateDict());
    state.put("mode", Tensor.zeros(1));
    rejects("ReduceLROnPlateau: unexpected key(s) [mode] for 2 param group(s)", () -> sched.loadStateDict(state));
    state.remove("mode");
    state.remove("best");
    rejects("ReduceLROnPlateau: missing best", () -> sched.loadStateDict(state));

    var maxState = new ReduceLROnPlateau(twoGroups()).mode(Mode.MAX).stateDict(); // best = -inf before any step
    rejects("ReduceLROnPlateau: best is -Infinity, which no MIN-mode scheduler keeps", () -> sched.loadStateDict(maxState));

    SGD opt = twoGroups();
    rejects("ReduceLROnPlateau: factor must be in [0, 1), got 1.0", () -> new ReduceLROnPlateau(opt).factor(1.0));
    rejects("ReduceLROnPlateau: patience must be >= 0, got -1", () -> new ReduceLROnPlateau(opt).patience(-1));
    rejects("ReduceLROnPlateau: expected 2 minimum rates (one per param group), got 1",
        () -> new ReduceLROnPlateau(opt).minLrs(0.1));
    rejects("ReduceLROnPlateau: threshold must be finite and >= 0, got NaN",
        () -> new ReduceLROnPlateau(opt).threshold(Double.NaN, ThresholdMode.REL));
    ReduceLROnPlateau stepped = new ReduceLROnPlateau(opt);
    stepped.step(1.0);
    var late = assertThrows(IllegalStateException.class, () -> stepped.patience(3));
    assertTrue(late.getMessage().contains("set the patience before the first step"), late.getMessage());
    opt.addParamGroup(List.of(Tensor.zeros(1).requiresGrad(true)), 0.3);
    var grown = assertThrows(IllegalStateException.class, () -> stepped.step(1.0));
    assertTrue(grown.getMessage().contains("has 3 param groups but had 2"), grown.getMessage());
  }

  private static void rejects(String message, Executable call) {
    var e = assertThrows(IllegalArgumentException.class, call);
    assertTrue(e.getMessage().contains(message), "message was: " + e.getMessage());
  }
}
