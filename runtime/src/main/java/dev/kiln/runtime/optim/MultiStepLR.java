package dev.kiln.runtime.optim;

import java.util.List;

/**
 * Multiplies each group's learning rate by {@code gamma} at each milestone epoch, like PyTorch's
 * {@code MultiStepLR}: {@code lr = base_lr * gamma^(number of milestones <= epoch)}.
 */
public final class MultiStepLR extends LRScheduler {
  private final List<Integer> milestones;
  private final double gamma;

  /** {@code milestones}: strictly increasing epochs, each >= 1. */
  public MultiStepLR(Optimizer optimizer, List<Integer> milestones, double gamma) {
    super(optimizer);
    this.milestones = checkMilestones(milestones);
    this.gamma = checkGamma("MultiStepLR", gamma);
  }

  /** With PyTorch's default {@code gamma} of 0.1. */
  public MultiStepLR(Optimizer optimizer, List<Integer> milestones) {
    this(optimizer, milestones, 0.1);
  }

  private static List<Integer> checkMilestones(List<Integer> milestones) {
    if (milestones == null || milestones.isEmpty()) {
      throw new IllegalArgumentException("MultiStepLR: milestones must be a non-empty list of epochs, got " + milestones);
    }
    int previous = 0;
    for (Integer m : milestones) {
      if (m == null || m <= previous) {
        throw new IllegalArgumentException(
            "MultiStepLR: milestones must be strictly increasing epochs >= 1, got " + milestones);
      }
      previous = m;
    }
    return List.copyOf(milestones);
  }

  public List<Integer> milestones() {
    return milestones;
  }

  @Override
  protected double nextLr(int group, double lr, double baseLr, int epoch) {
    return milestones.contains(epoch) ? lr * gamma : lr;
  }

  @Override
  protected double lrAt(int group, double baseLr, int epoch) {
    int passed = 0;
    while (passed < milestones.size() && milestones.get(passed) <= epoch) {
      passed++;
    }
    return baseLr * Math.pow(gamma, passed);
  }
}
