package dev.kiln.dsl;

import dev.kiln.runtime.Ops;
import dev.kiln.runtime.Tensor;

/**
 * Softplus, {@code log(1 + exp(beta x)) / beta}, linear ({@code x}) where {@code beta x >
 * threshold}, as PyTorch's {@code nn.Softplus(beta=1, threshold=20)}; any shape. A compiled
 * {@code @Model} takes it too (eager mode's kernels over its buffers).
 */
public class Softplus extends Layer<Softplus.Spec> {
  /** Softplus's hyper-parameters and shape rule: any shape, unchanged. */
  public record Spec(double beta, double threshold) implements LayerSpec {
    public Spec {
      if (!Float.isFinite((float) beta) || (float) beta == 0) {
        throw new IllegalArgumentException("Softplus: beta must be a finite float other than 0, got " + beta);
      }
      if (!Float.isFinite((float) threshold)) {
        throw new IllegalArgumentException("Softplus: threshold must be a finite float, got " + threshold);
      }
    }

    @Override
    public int[] outputShape(int[] in) {
      return in.clone();
    }

    /** PyTorch's repr: whole numbers as the defaults print ({@code Softplus(beta=1, threshold=20)}). */
    @Override
    public String toString() {
      return "Softplus(beta=" + number(beta) + ", threshold=" + number(threshold) + ")";
    }

    private static String number(double v) {
      return v == Math.rint(v) && Math.abs(v) < 1e15 ? Long.toString((long) v) : pythonRepr(v);
    }
  }

  /** beta = 1, threshold = 20, PyTorch's defaults. */
  public Softplus() {
    this(1, 20);
  }

  public Softplus(double beta, double threshold) {
    super(new Spec(beta, threshold));
  }

  @Override
  public Tensor forward(Tensor x) {
    return Ops.softplus(x, spec().beta(), spec().threshold());
  }
}
