package dev.kiln.runtime.io;

import dev.kiln.runtime.DType;
import dev.kiln.runtime.Kiln;
import dev.kiln.runtime.Tensor;
import dev.kiln.runtime.optim.Optimizer;
import dev.kiln.runtime.optim.Scheduler;
import java.io.IOException;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;

/**
 * A resumable training checkpoint in one safetensors file: everything a run needs to go on after a
 * given epoch exactly as if it had not stopped.
 *
 * <pre>
 *   model.&lt;name&gt;          the model's state dict (parameters and buffers)
 *   optimizer.&lt;key&gt;       {@link Optimizer#stateDict()}: state.&lt;i&gt;.&lt;name&gt;, param_groups.&lt;g&gt;.lr and .params
 *   scheduler.&lt;key&gt;       {@link Scheduler#stateDict()}, when there is a scheduler
 *   epoch                 the last completed epoch, a rank-0 int32 tensor
 *   rng                   {@link Kiln#rngState()}, exactly (see {@link StateEncoding#ofLong})
 * </pre>
 *
 * <pre>{@code
 * int start = resume ? Checkpoint.load(path, net::loadStateDict, opt, sched) + 1 : 1;
 * for (int epoch = start; epoch <= epochs; epoch++) {
 *   train(...);
 *   sched.step();
 *   Checkpoint.save(path, net.stateDict(), opt, sched, epoch);
 * }
 * }</pre>
 *
 * <p>Save at the end of an epoch, after the scheduler's step: the generator's state then is where
 * the next epoch's shuffle and dropout draws begin. Writing replaces the file atomically (see
 * {@link SafeTensors#write}), so a crash while saving leaves the previous checkpoint whole.
 */
public final class Checkpoint {
  private static final String MODEL = "model.";
  private static final String OPTIMIZER = "optimizer.";
  private static final String SCHEDULER = "scheduler.";
  private static final String EPOCH = "epoch";
  private static final String RNG = "rng";

  private Checkpoint() {}

  /**
   * Writes a checkpoint of the state after {@code epoch} to {@code file}, replacing any previous
   * file atomically.
   *
   * @param model the model's state dict ({@code module.stateDict()})
   * @param scheduler the learning-rate scheduler ({@link dev.kiln.runtime.optim.LRScheduler} or {@link
   *     dev.kiln.runtime.optim.ReduceLROnPlateau}), or null when there is none
   * @param epoch the epoch just completed, in {@code [0, 2^24]}
   * @throws IOException when the file cannot be written; the previous file is then left as it was
   */
  public static void save(Path file, Map<String, Tensor> model, Optimizer optimizer, Scheduler scheduler, int epoch)
      throws IOException {
    save(file, model, List.of(optimizer), scheduler == null ? List.of() : List.of(scheduler), epoch);
  }

  /**
   * {@link #save(Path, Map, Optimizer, Scheduler, int)} for a run with several optimizers and
   * schedulers (a GAN's generator and discriminator, their state dicts merged into {@code model}
   * under prefixes of their own): the first optimizer's state under {@code optimizer.}, the others'
   * under {@code optimizer1.}, {@code optimizer2.}, ..., and the schedulers' likewise; {@link
   * #load(Path, Consumer, List, List)} takes the same lists in the same order.
   *
   * @throws IllegalArgumentException for no optimizer, or a scheduler made for none of them
   */
  public static void save(Path file, Map<String, Tensor> model, List<Optimizer> optimizers, List<Scheduler> schedulers, int epoch)
      throws IOException {
    if (epoch < 0 || epoch > DType.MAX_EXACT_INT) {
      throw new IllegalArgumentException(file + ": epoch must be in 0..2^24, got " + epoch);
    }
    checkSchedulers(file, optimizers, schedulers);
    Map<String, Tensor> all = new LinkedHashMap<>();
    putPrefixed(all, MODEL, model);
    for (int i = 0; i < optimizers.size(); i++) {
      putPrefixed(all, numbered(OPTIMIZER, i), optimizers.get(i).stateDict());
    }
    for (int i = 0; i < schedulers.size(); i++) {
      putPrefixed(all, numbered(SCHEDULER, i), schedulers.get(i).stateDict());
    }
    all.put(EPOCH, StateEncoding.ofInt(epoch));
    all.put(RNG, StateEncoding.ofLong(Kiln.rngState()));
    SafeTensors.write(file, all);
  }

  /**
   * The model's state dict in a training checkpoint, without the optimizer's, the scheduler's or the
   * epoch: to evaluate or fine-tune from a checkpoint, {@code net.loadStateDict(Checkpoint.modelState(file))}.
   *
   * @throws CheckpointFormatException naming the file when it is not a valid safetensors file or not
   *     a Kiln training checkpoint (no epoch; a plain state dict is read with {@code net.load(file)})
   * @throws IOException when the file cannot be read
   */
  public static Map<String, Tensor> modelState(Path file) throws IOException {
    Map<String, Tensor> all = SafeTensors.read(file);
    if (!all.containsKey(EPOCH)) {
      throw new CheckpointFormatException(file, "not a Kiln training checkpoint: missing epoch (a model's own file, "
          + "written by save, is read with load)");
    }
    return withPrefix(all, MODEL);
  }

  /**
   * Restores a checkpoint written by {@link #save}: the model through {@code loadModel} (usually
   * {@code module::loadStateDict}, which checks the keys and shapes), the optimizer, the scheduler
   * when given, and the global generator's state.
   *
   * <p>All or nothing: the file is read and checked as a whole first, and when any part does not
   * fit (the model's keys or shapes, the optimizer's, the scheduler's) the optimizer and scheduler
   * are put back as they were and the model is left unchanged (when {@code loadModel} is {@code
   * Module::loadStateDict}, which changes nothing unless the whole state fits), so a run can start
   * fresh after a failed resume.
   *
   * @param scheduler the scheduler to restore, or null; it must be given when the checkpoint has one
   * @return the epoch the checkpoint was written after; training resumes at the one after it
   * @throws CheckpointFormatException naming the file when it is not a valid safetensors file or
   *     lacks the epoch or generator state
   * @throws IllegalArgumentException naming the file when its state does not fit the model,
   *     optimizer or scheduler
   * @throws IOException when the file cannot be read
   */
  public static int load(Path file, Consumer<Map<String, Tensor>> loadModel, Optimizer optimizer, Scheduler scheduler)
      throws IOException {
    return load(file, loadModel, List.of(optimizer), scheduler == null ? List.of() : List.of(scheduler));
  }

  /**
   * {@link #load(Path, Consumer, Optimizer, Scheduler)} of a checkpoint saved with several
   * optimizers and schedulers: the same lists, in the same order; all or nothing as there.
   */
  public static int load(Path file, Consumer<Map<String, Tensor>> loadModel, List<Optimizer> optimizers, List<Scheduler> schedulers)
      throws IOException {
    Map<String, Tensor> all = SafeTensors.read(file);
    int epoch;
    long rng;
    try {
      epoch = StateEncoding.toInt(all, EPOCH);
      rng = StateEncoding.toLong(all, RNG);
    } catch (IllegalArgumentException e) {
      throw new CheckpointFormatException(file, "not a Kiln training checkpoint: " + e.getMessage(), e);
    }
    if (epoch < 0) { // save refuses it
      throw new CheckpointFormatException(file, "its epoch is " + epoch + "; a checkpoint is written after an epoch >= 0");
    }
    checkSchedulers(file, optimizers, schedulers);
    int savedOptimizers = count(all, OPTIMIZER), savedSchedulers = count(all, SCHEDULER);
    if (savedOptimizers != optimizers.size()) {
      throw new IllegalArgumentException(file + ": the checkpoint holds " + savedOptimizers + " optimizer state(s), "
          + optimizers.size() + " optimizer(s) were given to restore");
    }
    if (schedulers.isEmpty() && savedSchedulers > 0) {
      throw new IllegalArgumentException(file + ": the checkpoint holds a learning-rate scheduler's state but no "
          + "scheduler was given to restore it");
    }
    if (savedSchedulers != schedulers.size()) {
      throw new IllegalArgumentException(file + ": the checkpoint holds " + (savedSchedulers == 0 ? "no learning-rate scheduler state"
          + " (it was saved without one), but a " + schedulers.get(0).getClass().getSimpleName() + " was given to restore; pass null"
          : savedSchedulers + " scheduler state(s), " + schedulers.size() + " scheduler(s) were given to restore"));
    }
    List<Map<String, Tensor>> optimizersBefore = optimizers.stream().map(Optimizer::stateDict).toList();
    List<Map<String, Tensor>> schedulersBefore = schedulers.stream().map(Scheduler::stateDict).toList();
    try {
      for (int i = 0; i < optimizers.size(); i++) {
        optimizers.get(i).loadStateDict(withPrefix(all, numbered(OPTIMIZER, i)));
      }
      for (int i = 0; i < schedulers.size(); i++) {
        schedulers.get(i).loadStateDict(withPrefix(all, numbered(SCHEDULER, i)));
      }
      loadModel.accept(withPrefix(all, MODEL));
    } catch (RuntimeException e) { // also what a loadModel callback or a scheduler's function throws
      for (int i = 0; i < optimizers.size(); i++) { // their own states: fit
        optimizers.get(i).loadStateDict(optimizersBefore.get(i));
      }
      for (int i = 0; i < schedulers.size(); i++) {
        schedulers.get(i).loadStateDict(schedulersBefore.get(i));
      }
      if (e instanceof IllegalArgumentException) {
        throw new IllegalArgumentException(file + ": " + e.getMessage() + " (nothing was restored)", e);
      }
      throw e;
    }
    Kiln.setRngState(rng);
    return epoch;
  }

  /** {@code optimizer.} for the first, {@code optimizer1.} for the second, ...: the one-optimizer layout unchanged. */
  private static String numbered(String prefix, int i) {
    return i == 0 ? prefix : prefix.substring(0, prefix.length() - 1) + i + ".";
  }

  /** How many numbered parts with {@code prefix} the checkpoint holds (0 when the first is absent). */
  private static int count(Map<String, Tensor> all, String prefix) {
    int n = 0;
    while (!withPrefix(all, numbered(prefix, n)).isEmpty()) {
      n++;
    }
    return n;
  }

  /** Throws unless there is an optimizer and each scheduler sets the rates of one of them. */
  private static void checkSchedulers(Path file, List<Optimizer> optimizers, List<Scheduler> schedulers) {
    if (optimizers.isEmpty()) {
      throw new IllegalArgumentException(file + ": a checkpoint needs at least one optimizer");
    }
    for (Scheduler scheduler : schedulers) {
      if (optimizers.stream().noneMatch(o -> o == scheduler.optimizer())) {
        throw new IllegalArgumentException(file + ": the " + scheduler.getClass().getSimpleName()
            + " was made for another optimizer than the " + (optimizers.size() == 1 ? optimizers.get(0).getClass().getSimpleName()
                : "optimizers") + " given");
      }
    }
  }

  private static void putPrefixed(Map<String, Tensor> out, String prefix, Map<String, Tensor> entries) {
    entries.forEach((key, t) -> out.put(prefix + key, t));
  }

  /** The entries of {@code all} whose key starts with {@code prefix}, without it, in order. */
  private static Map<String, Tensor> withPrefix(Map<String, Tensor> all, String prefix) {
    Map<String, Tensor> out = new LinkedHashMap<>();
    all.forEach((key, t) -> {
      if (key.startsWith(prefix)) {
        out.put(key.substring(prefix.length()), t);
      }
    });
    return out;
  }
}
