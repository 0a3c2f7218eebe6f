package dev.kiln.runtime.io;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kiln.runtime.Kiln;
import dev.kiln.runtime.Tensor;
import dev.kiln.runtime.optim.Adadelta;
import dev.kiln.runtime.optim.Adagrad;
import dev.kiln.runtime.optim.Adam;
import dev.kiln.runtime.optim.AdamW;
import dev.kiln.runtime.optim.ExponentialLR;
import dev.kiln.runtime.optim.LRScheduler;
import dev.kiln.runtime.optim.Optimizer;
import dev.kiln.runtime.optim.SGD;
import dev.kiln.runtime.optim.RMSprop;
import dev.kiln.runtime.optim.ReduceLROnPlateau;
import dev.kiln.runtime.optim.StepLR;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.AbstractMap;
import java.util.AbstractSet;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Function;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@link Checkpoint} round trips: a run stopped after some steps, saved, and loaded into fresh
 * objects goes on with exactly the parameters of an unbroken run.
 */
class CheckpointTest {
  @TempDir Path dir;

  /** A tiny model: two parameters in two param groups, the second with a rate of its own. */
  private static final class Model {
    final Tensor w = Tensor.of(new float[] {0.5f, -1.25f, 2f, 0.1f}, 2, 2).requiresGrad(true);
    final Tensor b = Tensor.of(new float[] {0.3f, -0.7f}).requiresGrad(true);

    Map<String, Tensor> stateDict() {
      Map<String, Tensor> m = new LinkedHashMap<>();
      m.put("w", w);
      m.put("b", b);
      return m;
    }

    void loadStateDict(Map<String, Tensor> state) {
      assertEquals(Set.of("w", "b"), state.keySet());
      stateDict().forEach((k, t) -> System.arraycopy(state.get(k).toFloatArray(), 0, t.buffer(), 0, t.numel()));
    }

    /** A made-up gradient that depends on the values, so that state carried wrongly shows. */
    void setGrads(int step) {
      for (Tensor p : List.of(w, b)) {
        float[] v = p.toFloatArray();
        for (int i = 0; i < v.length; i++) {
          v[i] = (float) Math.sin(3 * v[i] + step) + 0.1f * i;
        }
        p.setGrad(Tensor.wrap(v, p.shape()));
      }
    }
  }

  /** An optimizer over the model's two parameters, in two groups. */
  private static Optimizer sgd(Model m) {
    SGD opt = new SGD(List.of(m.w), 0.1).momentum(0.9).weightDecay(0.01);
    opt.addParamGroup(List.of(m.b), 0.05);
    return opt;
  }

  private static Optimizer adam(Model m) {
    Adam opt = new Adam(List.of(m.w), 0.01).amsgrad(true).weightDecay(0.001);
    opt.addParamGroup(List.of(m.b), 0.003);
    return opt;
  }

  private static Optimizer adamW(Model m) {
    AdamW opt = new AdamW(List.of(m.w), 0.01);
    opt.addParamGroup(List.of(m.b), 0.02);
    return opt;
  }

  /** Optimizer steps {@code from} to {@code to - 1}, the scheduler stepping after every second one. */
  private static void train(Model m, Optimizer opt, LRScheduler sched, int from, int to) {
    for (int step = from; step < to; step++) {
      opt.zeroGrad();
      m.setGrads(step);
      opt.step();
      if (sched != null && step % 2 == 1) {
        sched.step();
      }
    }
  }

  private void assertResumesExactly(Function<Model, Optimizer> factory, Function<Optimizer, LRScheduler> schedFactory)
      throws IOException {
    Model unbroken = new Model();
    Optimizer opt = factory.apply(unbroken);
    LRScheduler sched = schedFactory.apply(opt);
    train(unbroken, opt, sched, 0, 7);

    Path file = dir.resolve("ckpt.safetensors");
    Model first = new Model();
    Optimizer firstOpt = factory.apply(first);
    LRScheduler firstSched = schedFactory.apply(firstOpt);
    train(first, firstOpt, firstSched, 0, 4);
    Kiln.manualSeed(1234);
    long rng = Kiln.rngState();
    Checkpoint.save(file, first.stateDict(), firstOpt, firstSched, 4);

    Kiln.manualSeed(5);
    Model resumed = new Model();
    resumed.w.buffer()[0] = 42f; // a fresh model that differs from the saved one
    Optimizer resumedOpt = factory.apply(resumed);
    LRScheduler resumedSched = schedFactory.apply(resumedOpt);
    assertEquals(4, Checkpoint.load(file, resumed::loadStateDict, resumedOpt, resumedSched));
    assertEquals(rng, Kiln.rngState());
    if (firstSched != null) {
      assertEquals(firstSched.lastEpoch(), resumedSched.lastEpoch());
      assertEquals(firstSched.getLastLr(), resumedSched.getLastLr());
    }
    train(resumed, resumedOpt, resumedSched, 4, 7);

    assertArrayEquals(unbroken.w.toFloatArray(), resumed.w.toFloatArray());
    assertArrayEquals(unbroken.b.toFloatArray(), resumed.b.toFloatArray());
    assertEquals(opt.paramGroups().get(1).lr(), resumedOpt.paramGroups().get(1).lr());
  }

  @Test
  void sgdMomentumResumesExactly() throws IOException {
    assertResumesExactly(CheckpointTest::sgd, opt -> new StepLR(opt, 1, 0.5));
  }

  @Test
  void adamWithAmsgradResumesExactly() throws IOException {
    assertResumesExactly(CheckpointTest::adam, opt -> new ExponentialLR(opt, 0.9));
  }

  @Test
  void rmspropAdagradAndAdadeltaResumeExactly() throws IOException {
    assertResumesExactly(m -> {
      RMSprop opt = new RMSprop(List.of(m.w), 0.01).momentum(0.9).centered(true);
      opt.addParamGroup(List.of(m.b), 0.02);
      return opt;
    }, opt -> new StepLR(opt, 1, 0.5));
    assertResumesExactly(m -> {
      Adagrad opt = new Adagrad(List.of(m.w), 0.1).lrDecay(0.1).initialAccumulatorValue(0.1);
      opt.addParamGroup(List.of(m.b), 0.05);
      return opt;
    }, opt -> null);
    assertResumesExactly(m -> {
      Adadelta opt = new Adadelta(List.of(m.w), 1.0);
      opt.addParamGroup(List.of(m.b), 0.5);
      return opt;
    }, opt -> new StepLR(opt, 1, 0.7));
  }

  /** A GAN-shaped run: two models, two optimizers with schedulers, one checkpoint; resumed, it goes on exactly. */
  @Test
  void severalOptimizersAndSchedulersResumeExactly() throws IOException {
    Model g = new Model();
    Model d = new Model();
    Optimizer optG = new Adam(List.of(g.w, g.b), 0.01);
    Optimizer optD = new SGD(List.of(d.w, d.b), 0.05).momentum(0.9);
    LRScheduler schedG = new StepLR(optG, 1, 0.5);
    LRScheduler schedD = new ExponentialLR(optD, 0.9);
    Path file = dir.resolve("gan.safetensors");
    for (int step = 0; step < 3; step++) {
      train(g, optG, schedG, step, step + 1);
      train(d, optD, schedD, step, step + 1);
    }
    Map<String, Tensor> both = new LinkedHashMap<>();
    g.stateDict().forEach((k, t) -> both.put("g." + k, t));
    d.stateDict().forEach((k, t) -> both.put("d." + k, t));
    Checkpoint.save(file, both, List.of(optG, optD), List.of(schedG, schedD), 3);
    for (int step = 3; step < 6; step++) {
      train(g, optG, schedG, step, step + 1);
      train(d, optD, schedD, step, step + 1);
    }

    Model g2 = new Model();
    Model d2 = new Model();
    Optimizer optG2 = new Adam(List.of(g2.w, g2.b), 0.01);
    Optimizer optD2 = new SGD(List.of(d2.w, d2.b), 0.05).momentum(0.9);
    LRScheduler schedG2 = new StepLR(optG2, 1, 0.5);
    LRScheduler schedD2 = new ExponentialLR(optD2, 0.9);
    assertEquals(3, Checkpoint.load(file, state -> {
      Map<String, Tensor> gs = new LinkedHashMap<>(), ds = new LinkedHashMap<>();
      state.forEach((k, t) -> (k.startsWith("g.") ? gs : ds).put(k.substring(2), t));
      g2.loadStateDict(gs);
      d2.loadStateDict(ds);
    }, List.of(optG2, optD2), List.of(schedG2, schedD2)));
    for (int step = 3; step < 6; step++) {
      train(g2, optG2, schedG2, step, step + 1);
      train(d2, optD2, schedD2, step, step + 1);
    }
    assertArrayEquals(g.w.toFloatArray(), g2.w.toFloatArray());
    assertArrayEquals(d.b.toFloatArray(), d2.b.toFloatArray());
    var one = assertThrows(IllegalArgumentException.class, () -> Checkpoint.load(file, m -> { }, optG2, null));
    assertTrue(one.getMessage().contains("the checkpoint holds 2 optimizer state(s), 1 optimizer(s) were given"), one.getMessage());
  }

  @Test
  void adamWWithoutSchedulerResumesExactly() throws IOException {
    assertResumesExactly(CheckpointTest::adamW, opt -> null);
  }

  /** A ReduceLROnPlateau's counters and best value travel in the checkpoint too. */
  @Test
  void reduceLROnPlateauResumesFromTheCheckpoint() throws IOException {
    Model m = new Model();
    Optimizer opt = sgd(m);
    var sched = new ReduceLROnPlateau(opt).factor(0.5).patience(1).cooldown(2);
    for (double metric : new double[] {1.0, 0.8, 0.9, 0.95}) {
      sched.step(metric); // two bad epochs after 0.8: rates halved, cooldown 2
    }
    Path file = dir.resolve("plateau.safetensors");
    Checkpoint.save(file, m.stateDict(), opt, sched, 4);

    Model resumedModel = new Model();
    Optimizer resumedOpt = sgd(resumedModel);
    var resumed = new ReduceLROnPlateau(resumedOpt).factor(0.5).patience(1).cooldown(2);
    assertEquals(4, Checkpoint.load(file, resumedModel::loadStateDict, resumedOpt, resumed));
    assertEquals(List.of(0.05, 0.025), resumed.getLastLr());
    assertEquals(0.8, resumed.best());
    assertEquals(resumedOpt.paramGroups().get(0).lr(), 0.05);
    for (double metric : new double[] {0.9, 0.9, 0.9, 0.9}) {
      sched.step(metric);
      resumed.step(metric);
      assertEquals(sched.getLastLr(), resumed.getLastLr());
    }
  }

  @Test
  void optimizerStateUsesPyTorchNames() {
    Model m = new Model();
    Optimizer sgd = sgd(m);
    List<String> groups = List.of("param_groups.0.lr", "param_groups.0.params", "param_groups.1.lr", "param_groups.1.params");
    assertEquals(groups, List.copyOf(sgd.stateDict().keySet()));
    assertArrayEquals(new int[] {1}, sgd.stateDict().get("param_groups.1.params").toIntArray()); // PyTorch's indices
    train(m, sgd, null, 0, 1);
    List<String> expected = new ArrayList<>(List.of("state.0.momentum_buffer", "state.1.momentum_buffer"));
    expected.addAll(groups);
    assertEquals(expected, List.copyOf(sgd.stateDict().keySet()));

    Optimizer adam = adam(m);
    train(m, adam, null, 0, 1);
    expected = new ArrayList<>(List.of("state.0.step", "state.0.exp_avg", "state.0.exp_avg_sq", "state.0.max_exp_avg_sq",
        "state.1.step", "state.1.exp_avg", "state.1.exp_avg_sq", "state.1.max_exp_avg_sq"));
    expected.addAll(groups);
    assertEquals(expected, List.copyOf(adam.stateDict().keySet()));
  }

  /** As PyTorch: a state whose groups hold other numbers of parameters is refused, changing nothing. */
  @Test
  void optimizerStateForOtherGroupsIsRefused() {
    Tensor w1 = Tensor.ones(2).requiresGrad(true);
    SGD one = new SGD(List.of(w1), 0.1).momentum(0.9);
    SGD two = new SGD(List.of(Tensor.ones(2).requiresGrad(true), Tensor.ones(2).requiresGrad(true)), 0.5).momentum(0.9);
    var e = assertThrows(IllegalArgumentException.class, () -> two.loadStateDict(one.stateDict()));
    assertTrue(e.getMessage().startsWith("SGD: the state's param group 0 holds parameters tensor([0], dtype=int32), "
        + "this optimizer's holds 2 parameter(s) from index 0"), e.getMessage());
    assertEquals(0.5, two.paramGroups().get(0).lr());

    SGD grouped = new SGD(List.of(Tensor.ones(2).requiresGrad(true)), 0.5);
    grouped.addParamGroup(List.of(Tensor.ones(2).requiresGrad(true)), 0.5);
    var missing = assertThrows(IllegalArgumentException.class, () -> grouped.loadStateDict(one.stateDict()));
    assertTrue(missing.getMessage().startsWith("SGD: missing param_groups.1.lr (this optimizer has 2 param group(s)"),
        missing.getMessage());

    // A state saved before Kiln wrote the groups' parameter indices still loads.
    Map<String, Tensor> old = new java.util.LinkedHashMap<>(one.stateDict());
    old.remove("param_groups.0.params");
    SGD same = new SGD(List.of(Tensor.ones(2).requiresGrad(true)), 0.3);
    same.loadStateDict(old);
    assertEquals(0.1, same.paramGroups().get(0).lr());
  }

  @Test
  void sixtyFourBitValuesSurviveTheFileExactly() throws IOException {
    Path file = dir.resolve("exact.safetensors");
    Model m = new Model();
    Optimizer opt = sgd(m);
    opt.paramGroups().get(0).lr(0.1 + 1e-17 * 3); // a double no float holds
    double lr = opt.paramGroups().get(0).lr();
    for (long state : new long[] {Long.MIN_VALUE, -1L, 0x7fff_ffff_ffff_ffffL, 0x1234_5678_9abc_def0L}) {
      Kiln.setRngState(state);
      Checkpoint.save(file, m.stateDict(), opt, null, 3);
      Kiln.setRngState(0);
      opt.paramGroups().get(0).lr(1);
      Checkpoint.load(file, m::loadStateDict, opt, null);
      assertEquals(state, Kiln.rngState());
      assertEquals(lr, opt.paramGroups().get(0).lr());
    }
  }

  @Test
  void aCrashWhileSavingLeavesThePreviousCheckpointIntact() throws IOException {
    Path file = dir.resolve("ckpt.safetensors");
    Model m = new Model();
    Optimizer opt = sgd(m);
    train(m, opt, null, 0, 2);
    Checkpoint.save(file, m.stateDict(), opt, null, 1);
    byte[] previous = Files.readAllBytes(file);

    Map<String, Tensor> crashing = new AbstractMap<>() {
      @Override
      public Set<Entry<String, Tensor>> entrySet() {
        return new AbstractSet<>() {
          @Override
          public Iterator<Entry<String, Tensor>> iterator() {
            Iterator<Entry<String, Tensor>> real = m.stateDict().entrySet().iterator();
            return new Iterator<>() {
              int served;

              @Override
              public boolean hasNext() {
                return true;
              }

              @Override
              public Entry<String, Tensor> next() {
                if (served++ == 1) {
                  throw new IllegalStateException("simulated crash");
                }
                return real.next();
              }
            };
          }

          @Override
          public int size() {
            return 2;
          }
        };
      }
    };
    train(m, opt, null, 2, 3);
    assertThrows(IllegalStateException.class, () -> Checkpoint.save(file, crashing, opt, null, 2));
    assertArrayEquals(previous, Files.readAllBytes(file), "the previous checkpoint is untouched");
    try (Stream<Path> files = Files.list(dir)) {
      assertEquals(List.of(file), files.toList(), "no temporary file is left");
    }
  }

  /** A part that does not fit (here the model, restored last) puts the optimizer and scheduler back as they were. */
  @Test
  void aFailedLoadRestoresNothing() throws IOException {
    Path file = dir.resolve("all.safetensors");
    Model m = new Model();
    Optimizer opt = sgd(m);
    LRScheduler sched = new StepLR(opt, 1, 0.5);
    train(m, opt, sched, 0, 4);
    Checkpoint.save(file, m.stateDict(), opt, sched, 2);

    Model fresh = new Model();
    Optimizer freshOpt = sgd(fresh);
    LRScheduler freshSched = new StepLR(freshOpt, 1, 0.5);
    Map<String, Tensor> optBefore = freshOpt.stateDict();
    Map<String, Tensor> schedBefore = freshSched.stateDict();
    var e = assertThrows(IllegalArgumentException.class, () -> Checkpoint.load(file, state -> {
      throw new IllegalArgumentException("the model does not fit");
    }, freshOpt, freshSched));
    assertEquals(file + ": the model does not fit (nothing was restored)", e.getMessage());
    assertStatesEqual(optBefore, freshOpt.stateDict());
    assertStatesEqual(schedBefore, freshSched.stateDict());
    assertEquals(0.1, freshOpt.paramGroups().get(0).lr());
    // Whatever the model's loader throws, the same.
    assertThrows(IllegalStateException.class, () -> Checkpoint.load(file, state -> {
      throw new IllegalStateException("a loader of the user's own");
    }, freshOpt, freshSched));
    assertStatesEqual(optBefore, freshOpt.stateDict());
    assertStatesEqual(schedBefore, freshSched.stateDict());
    // ... and the same objects resume once the model fits.
    assertEquals(2, Checkpoint.load(file, fresh::loadStateDict, freshOpt, freshSched));
    assertStatesEqual(opt.stateDict(), freshOpt.stateDict());
  }

  @Test
  void aSchedulerOfAnotherOptimizerIsRefused() {
    Model m = new Model();
    Optimizer opt = sgd(m);
    LRScheduler other = new StepLR(sgd(new Model()), 1);
    var e = assertThrows(IllegalArgumentException.class,
        () -> Checkpoint.save(dir.resolve("x.safetensors"), m.stateDict(), opt, other, 1));
    assertTrue(e.getMessage().endsWith("the StepLR was made for another optimizer than the SGD given"), e.getMessage());
  }

  private static void assertStatesEqual(Map<String, Tensor> expected, Map<String, Tensor> actual) {
    assertEquals(expected.keySet(), actual.keySet());
    expected.forEach((k, t) -> assertArrayEquals(t.toFloatArray(), actual.get(k).toFloatArray(), k));
  }

  @Test
  void stateThatDoesNotFitIsRejectedNamingTheFileAndChangesNothing() throws IOException {
    Path file = dir.resolve("sgd.safetensors");
    Model m = new Model();
    Optimizer opt = sgd(m);
    train(m, opt, null, 0, 1);
    Checkpoint.save(file, m.stateDict(), opt, null, 1);

    Tensor other = Tensor.zeros(3).requiresGrad(true);
    SGD wrong = new SGD(List.of(other), 0.5).momentum(0.9);
    wrong.addParamGroup(List.of(Tensor.zeros(2).requiresGrad(true)), 0.5);
    var e = assertThrows(IllegalArgumentException.class, () -> Checkpoint.load(file, s -> {}, wrong, null));
    assertTrue(e.getMessage().startsWith(file + ": SGD: state.0.momentum_buffer"), e.getMessage());
    assertEquals(Map.of("param_groups.0.lr", 0.5, "param_groups.1.lr", 0.5), Map.of(
        "param_groups.0.lr", wrong.paramGroups().get(0).lr(), "param_groups.1.lr", wrong.paramGroups().get(1).lr()));

    Optimizer freshOpt = sgd(new Model());
    var missing = assertThrows(IllegalArgumentException.class,
        () -> Checkpoint.load(file, m::loadStateDict, freshOpt, new StepLR(freshOpt, 2)));
    assertTrue(missing.getMessage().contains("holds no learning-rate scheduler state (it was saved without one), "
        + "but a StepLR was given to restore"), missing.getMessage());

    Path plain = dir.resolve("weights.safetensors");
    SafeTensors.write(plain, m.stateDict());
    var format = assertThrows(CheckpointFormatException.class,
        () -> Checkpoint.load(plain, m::loadStateDict, sgd(new Model()), null));
    assertTrue(format.getMessage().startsWith(plain + ": not a Kiln training checkpoint: missing epoch"),
        format.getMessage());

    // an epoch save refuses, written by something else
    Map<String, Tensor> edited = new java.util.LinkedHashMap<>(SafeTensors.read(file));
    edited.put("epoch", StateEncoding.ofInt(-5));
    Path negative = dir.resolve("negative.safetensors");
    SafeTensors.write(negative, edited);
    var epoch = assertThrows(CheckpointFormatException.class,
        () -> Checkpoint.load(negative, m::loadStateDict, sgd(new Model()), null));
    assertEquals(negative + ": its epoch is -5; a checkpoint is written after an epoch >= 0", epoch.getMessage());
    var tooLate = assertThrows(IllegalArgumentException.class,
        () -> Checkpoint.save(negative, m.stateDict(), opt, null, (1 << 24) + 1));
    assertEquals(negative + ": epoch must be in 0..2^24, got 16777217", tooLate.getMessage());
  }
}
