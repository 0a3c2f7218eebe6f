package dev.kiln.runtime.optim;

import java.util.List;

/**
 * Multiplies each group's learning rate by {@code gamma} at each milestone epoch, like PyTorch's
 * {@code MultiStepLR}: {@code lr = base_lr * gamma^(number of milestones <= epoch)}. As PyTorch's
 * (a {@code Counter}), milestones may come in any order, and one listed twice multiplies by {@code
 * gamma} twice.
 */
public final class MultiStepLR extends LRScheduler {
  private final List<Integer> milestones;
  private final double gamma;

  /** {@code milestones}: epochs, each >= 1 (sorted here; repeats count). */
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
    for (Integer m : milestones) {
      if (m == null || m < 1) { // the first step is epoch 1; PyTorch would apply a 0 at construction
        throw new IllegalArgumentException("MultiStepLR: milestones must be epochs >= 1, got " + milestones);
      }
    }
    return milestones.stream().sorted().toList();
  }

  /** The milestones, sorted, each as often as it was given. */
  public List<Integer> milestones() {
    return milestones;
  }

  @Override
  protected double nextLr(int group, double lr, double baseLr, int epoch) {
    return lr * Math.pow(gamma, milestones.stream().filter(m -> m == epoch).count());
  }

  @Override
  protected double lrAt(int group, double baseLr, int epoch) {
    return baseLr * Math.pow(gamma, milestones.stream().filter(m -> m <= epoch).count());
  }
}
