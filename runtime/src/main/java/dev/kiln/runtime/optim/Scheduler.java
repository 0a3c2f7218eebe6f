package dev.kiln.runtime.optim;

import dev.kiln.runtime.Tensor;
import java.util.List;
import java.util.Map;

/**
 * What every learning-rate scheduler offers: the optimizer whose rates it sets, the rates it last
 * set, and a state that a {@link dev.kiln.runtime.io.Checkpoint} saves and restores. The epoch
 * schedules ({@link StepLR}, ...) extend {@link LRScheduler} and step once per epoch; {@link
 * ReduceLROnPlateau} steps on a metric it watches.
 */
public interface Scheduler {
  /** The optimizer whose param groups' learning rates this scheduler sets. */
  Optimizer optimizer();

  /** The learning rate of each param group after the last step (their rates at construction before any). */
  List<Double> getLastLr();

  /**
   * The scheduler's state, like PyTorch's {@code scheduler.state_dict()}: counters and rates as
   * tensors (see {@link dev.kiln.runtime.io.StateEncoding}). The schedule's settings are not saved:
   * the scheduler that loads the state is built with them.
   */
  Map<String, Tensor> stateDict();

  /**
   * Restores a state written by {@link #stateDict()}; nothing changes unless it fits.
   *
   * @throws IllegalArgumentException naming the key that is unexpected, missing or does not fit
   */
  void loadStateDict(Map<String, Tensor> state);
}
