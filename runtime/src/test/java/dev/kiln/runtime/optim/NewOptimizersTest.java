package dev.kiln.runtime.optim;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kiln.runtime.Tensor;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Function;
import org.junit.jupiter.api.Test;

/**
 * Adamax, NAdam, RAdam, Rprop and ASGD against PyTorch 1.13 (optim/optimizers.txt, from
 * make_optimizers.py): both param groups' values after each of 12 steps, bit for bit (the update
 * loops follow PyTorch's CPU ops in order and round as they do; {@link #ULPS} is there to loosen
 * should a JDK's pow round a per-step scalar differently), ASGD's running averages, a resume from a
 * state dict half-way, and the errors.
 */
class NewOptimizersTest {
  static final int STEPS = 12;
  private static final int N = 8;
  /** Largest difference from PyTorch allowed, in ulps of PyTorch's value: none (measured with JDK 17). */
  private static final int ULPS = 0;

  private final Reference ref = Reference.optimizers();

  /** The script's cases: the first group at the optimizer's rate, the second at half of it. */
  private static final Map<String, Function<List<Tensor>, Optimizer>> CASES = new LinkedHashMap<>();

  static {
    CASES.put("adamax", ps -> new Adamax(ps, 0.05));
    CASES.put("adamax_wd", ps -> new Adamax(ps, 0.05).betas(0.8, 0.99).eps(1e-6).weightDecay(0.1));
    CASES.put("nadam", ps -> new NAdam(ps, 0.05));
    CASES.put("nadam_wd", ps -> new NAdam(ps, 0.05).betas(0.85, 0.995).eps(1e-7).weightDecay(0.1).momentumDecay(0.01));
    CASES.put("nadam_groups", ps -> new NAdam(ps, 0.05));
    CASES.put("radam", ps -> new RAdam(ps, 0.05));
    CASES.put("radam_wd", ps -> new RAdam(ps, 0.05).betas(0.8, 0.9).eps(1e-6).weightDecay(0.1));
    CASES.put("radam_lr_change", ps -> new RAdam(ps, 0.05).betas(0.9, 0.9));
    CASES.put("rprop", ps -> new Rprop(ps, 0.05));
    CASES.put("rprop_etas", ps -> new Rprop(ps, 0.05).etas(0.3, 1.5).stepSizes(0.01, 0.08));
    CASES.put("rprop_lr_change", ps -> new Rprop(ps, 0.05));
    CASES.put("adamax_lr_change", ps -> new Adamax(ps, 0.05));
    CASES.put("asgd", ps -> new ASGD(ps, 0.05));
    CASES.put("asgd_avg", ps -> new ASGD(ps, 0.05).lambd(0.02).alpha(0.6).t0(3).weightDecay(0.1));
    CASES.put("asgd_groups", ps -> new ASGD(ps, 0.05).lambd(0.01).t0(4.5));
    CASES.put("asgd_lr_change", ps -> new ASGD(ps, 0.05).lambd(0.05).alpha(1.0).t0(2));
  }

  private Tensor init(int group) {
    return Tensor.of(Arrays.copyOfRange(toFloats(ref.values("init", 0)), group * N, group * N + N)).requiresGrad(true);
  }

  private static float[] toFloats(double[] v) {
    float[] f = new float[v.length];
    for (int i = 0; i < v.length; i++) {
      f[i] = (float) v[i];
    }
    return f;
  }

  private Optimizer make(String name, Tensor p0, Tensor p1) {
    Optimizer opt = CASES.get(name).apply(List.of(p0));
    ParamGroup second = opt.addParamGroup(List.of(p1), opt.paramGroups().get(0).lr() * 0.5);
    if (name.endsWith("_groups")) {
      second.weightDecay(0.2);
    }
    return opt;
  }

  /** Steps {@code from + 1 .. STEPS}, comparing both parameters (and ASGD's averages) after each with PyTorch's. */
  private void run(String name, Optimizer opt, Tensor p0, Tensor p1, int from) {
    for (int step = from + 1; step <= STEPS; step++) {
      if (name.endsWith("_lr_change") && step == 6) {
        opt.paramGroups().forEach(g -> g.lr(g.lr() * 0.5));
      }
      float[] grad = toFloats(ref.values("grad", step));
      p0.setGrad(Tensor.of(Arrays.copyOfRange(grad, 0, N)));
      p1.setGrad(Tensor.of(Arrays.copyOfRange(grad, N, 2 * N)));
      opt.step();
      compare(name, step, p0.toFloatArray(), p1.toFloatArray());
      if (opt instanceof ASGD asgd) {
        compare(name + "_ax", step, asgd.average(p0).toFloatArray(), asgd.average(p1).toFloatArray());
      }
    }
  }

  private void compare(String name, int step, float[] a0, float[] a1) {
    float[] expected = toFloats(ref.values(name, step));
    for (int i = 0; i < 2 * N; i++) {
      float want = expected[i];
      float got = i < N ? a0[i] : a1[i - N];
      assertTrue(Math.abs(got - want) <= ULPS * Math.ulp(want), name + " step " + step + " [" + i + "]: expected "
          + want + " (PyTorch), got " + got + ", " + Math.abs(got - want) / Math.ulp(want) + " ulp");
    }
  }

  @Test
  void everyCaseFollowsPyTorch() {
    for (String name : CASES.keySet()) {
      Tensor p0 = init(0);
      Tensor p1 = init(1);
      run(name, make(name, p0, p1), p0, p1, 0);
    }
  }

  @Test
  void aResumedOptimizerGoesOnTheSame() {
    for (String name : CASES.keySet()) {
      Tensor p0 = init(0);
      Tensor p1 = init(1);
      Optimizer opt = make(name, p0, p1);
      int half = 7; // past the lr change, and past RAdam's switch to the rectified step
      run(name, opt, p0, p1, 0);
      // replay to half on a fresh pair, save, load into a third, go on
      Tensor q0 = init(0);
      Tensor q1 = init(1);
      Optimizer first = make(name, q0, q1);
      runQuiet(name, first, q0, q1, half);
      Map<String, Tensor> state = first.stateDict();
      Tensor r0 = Tensor.of(q0.toFloatArray()).requiresGrad(true);
      Tensor r1 = Tensor.of(q1.toFloatArray()).requiresGrad(true);
      Optimizer resumed = make(name, r0, r1);
      resumed.loadStateDict(state);
      run(name, resumed, r0, r1, half);
      assertEquals(Arrays.toString(p0.toFloatArray()), Arrays.toString(r0.toFloatArray()), name + ": resumed vs straight");
    }
  }

  private void runQuiet(String name, Optimizer opt, Tensor p0, Tensor p1, int to) {
    for (int step = 1; step <= to; step++) {
      if (name.endsWith("_lr_change") && step == 6) {
        opt.paramGroups().forEach(g -> g.lr(g.lr() * 0.5));
      }
      float[] grad = toFloats(ref.values("grad", step));
      p0.setGrad(Tensor.of(Arrays.copyOfRange(grad, 0, N)));
      p1.setGrad(Tensor.of(Arrays.copyOfRange(grad, N, 2 * N)));
      opt.step();
    }
  }

  @Test
  void stateDictsNamePyTorchsSlots() {
    Tensor p = Tensor.of(new float[] {1, 2}).requiresGrad(true);
    for (Optimizer opt : List.of(new Adamax(List.of(p), 0.1), new NAdam(List.of(p), 0.1), new RAdam(List.of(p), 0.1),
        new Rprop(List.of(p), 0.1), new ASGD(List.of(p), 0.1))) {
      p.setGrad(Tensor.of(new float[] {0.5f, -1f}));
      opt.step();
      List<String> keys = opt.stateDict().keySet().stream().filter(k -> k.startsWith("state.0.")).toList();
      List<String> want = switch (opt.getClass().getSimpleName()) {
        case "Adamax" -> List.of("state.0.step", "state.0.exp_avg", "state.0.exp_inf");
        case "Rprop" -> List.of("state.0.step", "state.0.prev", "state.0.step_size");
        case "ASGD" -> List.of("state.0.step", "state.0.eta", "state.0.mu", "state.0.ax");
        default -> List.of("state.0.step", "state.0.exp_avg", "state.0.exp_avg_sq");
      };
      assertEquals(want, keys, opt.getClass().getSimpleName());
    }
  }

  @Test
  void asgdStateHoldsEtaAndMuAsPyTorch() {
    Tensor p = Tensor.of(new float[] {1, 2}).requiresGrad(true);
    ASGD opt = new ASGD(List.of(p), 0.1).lambd(0.5).t0(1);
    assertEquals(null, opt.average(p), "no average before the first step");
    for (int step = 1; step <= 3; step++) {
      p.setGrad(Tensor.of(new float[] {0.5f, -1f}));
      opt.step();
      Map<String, Tensor> state = opt.stateDict();
      assertEquals(0, state.get("state.0.eta").shape().length, "eta is 0-dimensional");
      assertEquals((float) (0.1 / Math.pow(1 + 0.5 * 0.1 * step, 0.75)), state.get("state.0.eta").toFloatArray()[0]);
      assertEquals((float) (1 / Math.max(1, step - 1.0)), state.get("state.0.mu").toFloatArray()[0]);
    }
    Map<String, Tensor> state = new LinkedHashMap<>(opt.stateDict());
    state.put("state.0.mu", Tensor.of(new float[] {1, 1}));
    ASGD other = new ASGD(List.of(p), 0.1);
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> other.loadStateDict(state));
    assertTrue(e.getMessage().contains("state.0.mu is a FLOAT32 tensor of shape [2], expected FLOAT32 of shape []"),
        e.getMessage());
  }

  private static void assertRefused(String message, org.junit.jupiter.api.function.Executable make) {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, make);
    assertEquals(message, e.getMessage());
  }

  @Test
  void badSettingsAreNamed() {
    List<Tensor> ps = List.of(Tensor.zeros(2).requiresGrad(true));
    assertRefused("Adamax: beta2 must be in [0, 1), got 1.0", () -> new Adamax(ps, 0.1).betas(0.9, 1.0));
    assertRefused("NAdam: momentum decay must be finite and >= 0, got -1.0", () -> new NAdam(ps, 0.1).momentumDecay(-1));
    assertRefused("RAdam: beta1 must be in [0, 1), got -0.1", () -> new RAdam(ps, 0.1).betas(-0.1, 0.9));
    assertRefused("RAdam: learning rate must be finite and >= 0, got -1.0", () -> new RAdam(ps, -1));
    assertRefused("Rprop: etas must satisfy 0 < etaMinus < 1 < etaPlus, got (0.5, 0.9)", () -> new Rprop(ps, 0.1).etas(0.5, 0.9));
    assertRefused("Rprop: step sizes must satisfy 0 <= min <= max, got (1.0, 0.5)", () -> new Rprop(ps, 0.1).stepSizes(1, 0.5));
    assertRefused("ASGD: weight decay must be finite and >= 0, got -0.1", () -> new ASGD(ps, 0.1).weightDecay(-0.1));
    assertRefused("ASGD: t0 must be finite, got NaN", () -> new ASGD(ps, 0.1).t0(Double.NaN));
    assertRefused("ASGD: learning rate must be finite and >= 0, got -1.0", () -> new ASGD(ps, -1));
  }
}
