package dev.kiln.runtime.optim;

import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.function.IntToDoubleFunction;

/**
 * Sets each group's learning rate to its base rate times a function of the epoch, like PyTorch's
 * {@code LambdaLR}: {@code lr = base_lr * lambda(epoch)}, from epoch 0 on (so construction already
 * sets {@code base_lr * lambda(0)}). A warm-up over 5 epochs:
 *
 * <pre>
 *   var sched = new LambdaLR(opt, epoch -&gt; Math.min(1.0, (epoch + 1) / 5.0));
 * </pre>
 *
 * As in PyTorch, the rate does not depend on the group's current rate, so a rate changed by hand
 * lasts until the next {@link #step()}. The functions are not part of the saved state.
 */
public final class LambdaLR extends LRScheduler {
  private final List<IntToDoubleFunction> lambdas;

  /** One function for every param group. */
  public LambdaLR(Optimizer optimizer, IntToDoubleFunction lambda) {
    this(optimizer, sameForEach("LambdaLR", optimizer, lambda));
  }

  /** One function per param group, in group order. */
  public LambdaLR(Optimizer optimizer, List<IntToDoubleFunction> lambdas) {
    super(optimizer);
    this.lambdas = checkLambdas("LambdaLR", optimizer, lambdas);
    initialStep();
  }

  @Override
  protected double epochZeroLr(int group, double lr, double baseLr) {
    return lrAt(group, baseLr, 0);
  }

  @Override
  protected double nextLr(int group, double lr, double baseLr, int epoch) {
    return lrAt(group, baseLr, epoch);
  }

  @Override
  protected double lrAt(int group, double baseLr, int epoch) {
    return baseLr * factor("LambdaLR", lambdas.get(group), group, epoch);
  }

  static List<IntToDoubleFunction> sameForEach(String scheduler, Optimizer optimizer, IntToDoubleFunction lambda) {
    Objects.requireNonNull(optimizer, scheduler + ": optimizer is null");
    List<IntToDoubleFunction> all = new ArrayList<>();
    for (int g = 0; g < optimizer.paramGroups().size(); g++) {
      all.add(lambda);
    }
    return all;
  }

  static List<IntToDoubleFunction> checkLambdas(String scheduler, Optimizer optimizer, List<IntToDoubleFunction> lambdas) {
    int groups = optimizer.paramGroups().size();
    boolean hasNull = lambdas != null && lambdas.stream().anyMatch(Objects::isNull);
    if (lambdas == null || lambdas.size() != groups || hasNull) {
      throw new IllegalArgumentException(scheduler + ": expected " + groups + " function(s), one per param group, got "
          + (lambdas == null ? "null" : lambdas.size() + (hasNull ? " with a null" : "")));
    }
    return List.copyOf(lambdas);
  }

  /** {@code lambda(epoch)}, which must be a finite number >= 0 (an {@link IllegalStateException} otherwise, as a step's bad rate). */
  static double factor(String scheduler, IntToDoubleFunction lambda, int group, int epoch) {
    double f = lambda.applyAsDouble(epoch);
    if (!(f >= 0) || Double.isInfinite(f)) {
      throw new IllegalStateException(scheduler + ": the function of param group " + group + " gave " + f
          + " at epoch " + epoch + "; a learning-rate factor must be finite and >= 0");
    }
    return f;
  }
}
