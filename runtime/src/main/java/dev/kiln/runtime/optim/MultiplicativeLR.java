package dev.kiln.runtime.optim;

import java.util.List;
import java.util.function.IntToDoubleFunction;

/**
 * Multiplies each group's learning rate by a function of the epoch at every step, like PyTorch's
 * {@code MultiplicativeLR}: {@code lr = lr * lambda(epoch)} for epochs 1, 2, ...; epoch 0 keeps the
 * rate the group had at construction. It works from the group's current rate, so a rate changed by
 * hand carries on. The functions are not part of the saved state.
 */
public final class MultiplicativeLR extends LRScheduler {
  private final List<IntToDoubleFunction> lambdas;

  /** One function for every param group. */
  public MultiplicativeLR(Optimizer optimizer, IntToDoubleFunction lambda) {
    this(optimizer, LambdaLR.sameForEach("MultiplicativeLR", optimizer, lambda));
  }

  /** One function per param group, in group order. */
  public MultiplicativeLR(Optimizer optimizer, List<IntToDoubleFunction> lambdas) {
    super(optimizer);
    this.lambdas = LambdaLR.checkLambdas("MultiplicativeLR", optimizer, lambdas);
  }

  @Override
  protected double nextLr(int group, double lr, double baseLr, int epoch) {
    return lr * LambdaLR.factor("MultiplicativeLR", lambdas.get(group), group, epoch);
  }

  /** PyTorch's {@code step(0)}: MultiplicativeLR has no closed form there, and its epoch 0 keeps the rates. */
  @Override
  protected double restartLr(int group, double lr, double baseLr) {
    return lr;
  }

  /** The base rate times the product of the factors of epochs 1 to {@code epoch}. */
  @Override
  protected double lrAt(int group, double baseLr, int epoch) {
    double lr = baseLr;
    for (int e = 1; e <= epoch; e++) {
      lr *= LambdaLR.factor("MultiplicativeLR", lambdas.get(group), group, e);
    }
    return lr;
  }
}
