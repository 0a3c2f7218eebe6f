package dev.kiln.runtime.optim;

import dev.kiln.runtime.Tensor;
import dev.kiln.runtime.cuda.OptimKernels;
import java.util.List;

/**
 * Rprop (resilient backpropagation) with PyTorch 1.13's {@code torch.optim.Rprop} update: each
 * element has its own step size, which starts at the group's learning rate (at the parameter's
 * first step) and grows by {@code etaPlus} while the gradient keeps its sign, shrinks by {@code
 * etaMinus} when it flips, within [{@code minStep}, {@code maxStep}]:
 *
 * <pre>
 *   f = etaPlus if g * prev > 0, etaMinus if < 0, else 1
 *   size = clamp(size * f, minStep, maxStep)           (step_size)
 *   g = 0 where f == etaMinus  (no step after a flip)
 *   p = p - sign(g) * size;    prev = g                 (prev)
 * </pre>
 *
 * Defaults as in PyTorch: lr 0.01 (give it), etas (0.5, 1.2), step sizes (1e-6, 50). The rate is
 * only the initial step size; a scheduler's later rates do not change it. Rprop has no weight
 * decay (PyTorch 1.13's has none either).
 */
public final class Rprop extends RunningStateOptimizer {
  private double etaMinus = 0.5;
  private double etaPlus = 1.2;
  private double minStep = 1e-6;
  private double maxStep = 50;

  public Rprop(List<Tensor> params, double lr) {
    super("Rprop", params, lr, "prev", "step_size");
  }

  /** PyTorch's {@code etas}: {@code 0 < etaMinus < 1 < etaPlus}. */
  public Rprop etas(double etaMinus, double etaPlus) {
    if (!(etaMinus > 0 && etaMinus < 1 && etaPlus > 1) || Double.isInfinite(etaPlus)) {
      throw new IllegalArgumentException("Rprop: etas must satisfy 0 < etaMinus < 1 < etaPlus, got (" + etaMinus + ", "
          + etaPlus + ")");
    }
    this.etaMinus = etaMinus;
    this.etaPlus = etaPlus;
    return this;
  }

  /** PyTorch's {@code step_sizes}: the least and greatest step size, {@code 0 <= min <= max}. */
  public Rprop stepSizes(double minStep, double maxStep) {
    if (!(minStep >= 0 && maxStep >= minStep) || Double.isInfinite(maxStep)) {
      throw new IllegalArgumentException("Rprop: step sizes must satisfy 0 <= min <= max, got (" + minStep + ", " + maxStep
          + ")");
    }
    this.minStep = minStep;
    this.maxStep = maxStep;
    return this;
  }

  public double etaMinus() {
    return etaMinus;
  }

  public double etaPlus() {
    return etaPlus;
  }

  /** Always 0: Rprop has no weight decay. */
  @Override
  public double weightDecay() {
    return 0;
  }

  @Override
  boolean keeps(int slot) {
    return true;
  }

  @Override
  float initialValue(int slot, double lr) {
    return slot == 1 ? (float) lr : 0f;
  }

  @Override
  long workPerElement() {
    return 6;
  }

  @Override
  void updateRange(float[] p, float[] g, float[][] slots, int from, int to, int step, double lr, float decay) {
    float minus = (float) etaMinus, plus = (float) etaPlus, lo = (float) minStep, hi = (float) maxStep;
    float[] prev = slots[0];
    float[] size = slots[1];
    for (int i = from; i < to; i++) {
      float gi = g[i];
      float prod = gi * prev[i];
      float f = prod > 0f ? plus : prod < 0f ? minus : prod == 0f ? 1f : prod; // NaN stays NaN, as sign()
      float s = Math.min(Math.max(size[i] * f, lo), hi); // keeps a NaN, as clamp
      size[i] = s;
      if (f == minus) {
        gi = 0f;
      }
      p[i] = p[i] - Math.signum(gi) * s;
      prev[i] = gi;
    }
  }

  @Override
  OptimKernels.Entry entry(long p, long g, long[] slots, int n, int step, double lr) {
    return OptimKernels.Entry.slots(p, g, slots[0], slots[1], 0L, n, 0f);
  }

  @Override
  void launch(List<OptimKernels.Entry> entries, double lr) {
    OptimKernels.rprop(entries, (float) etaMinus, (float) etaPlus, (float) minStep, (float) maxStep);
  }
}
