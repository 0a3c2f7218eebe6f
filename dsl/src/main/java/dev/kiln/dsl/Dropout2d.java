package dev.kiln.dsl;

import dev.kiln.runtime.Ops;
import dev.kiln.runtime.Shapes;
import dev.kiln.runtime.Tensor;

/**
 * Channel dropout, as PyTorch's {@code nn.Dropout2d}: in training each channel map of an {@code [N,
 * C, H, W]} input is zeroed with probability {@code p} and the others scaled by {@code 1 / (1 -
 * p)}; in evaluation the input passes unchanged ({@link Ops#dropout2d}). Eager or compiled (one
 * mask value per sample and channel, drawn as the eager form draws it).
 */
public class Dropout2d extends Layer<Dropout2d.Spec> {
  /**
   * Dropout2d's hyper-parameter and shape rule: {@code [N, C, H, W]}, unchanged; also PyTorch 1.13's {@code [N, C, L]}
   * (each channel of length L dropped whole) and {@code [N, C]} (each value, as PyTorch's mnist_rnn applies it after a
   * {@code BatchNorm1d}), which PyTorch accepts with a deprecation warning.
   */
  public record Spec(double p) implements LayerSpec {
    public Spec {
      if (!(p >= 0 && p <= 1)) {
        throw new IllegalArgumentException("Dropout2d: p has to be between 0 and 1, but got " + p);
      }
    }

    @Override
    public int[] outputShape(int[] in) {
      if (in.length < 2 || in.length > 4) {
        throw new ShapeException(this + " expects [N, C, H, W] (or [N, C, L], [N, C]), receives " + Shapes.toString(in));
      }
      return in.clone();
    }

    @Override
    public String toString() {
      return "Dropout2d(p=" + pythonRepr(p) + ", inplace=False)";
    }
  }

  /** p = 0.5, PyTorch's default. */
  public Dropout2d() {
    this(0.5);
  }

  public Dropout2d(double p) {
    super(new Spec(p));
  }

  @Override
  public Tensor forward(Tensor x) {
    outputShape(x.shape());
    return Ops.dropout2d(x, spec().p(), isTraining());
  }
}
