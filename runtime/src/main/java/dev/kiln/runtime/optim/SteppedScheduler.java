package dev.kiln.runtime.optim;

/**
 * A scheduler that moves on by one {@link #step()} per epoch (or per batch, for {@link OneCycleLR}
 * and {@link CyclicLR}): every {@link LRScheduler}, {@link SequentialLR} and {@link
 * ChainedScheduler}; not {@link ReduceLROnPlateau}, which steps on a metric.
 */
public interface SteppedScheduler extends Scheduler {
  /** Moves to the next epoch and sets every param group's learning rate for it. */
  void step();
}
