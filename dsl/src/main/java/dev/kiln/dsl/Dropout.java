package dev.kiln.dsl;

import dev.kiln.runtime.Kiln;
import dev.kiln.runtime.Ops;
import dev.kiln.runtime.Tensor;

/**
 * Inverted dropout, as PyTorch's {@code nn.Dropout}: in training each element is zeroed with
 * probability {@code p} and the rest are scaled by {@code 1 / (1 - p)}; in evaluation
 * ({@link #eval()}) the input passes unchanged. Any shape. The masks come from the global
 * generator, so {@link Kiln#manualSeed} repeats them.
 */
public class Dropout extends Layer<Dropout.Spec> {
  /** Dropout's hyper-parameter and shape rule: any shape, unchanged. */
  public record Spec(double p) implements LayerSpec {
    public Spec {
      if (!(p >= 0 && p <= 1)) {
        throw new IllegalArgumentException("Dropout: p has to be between 0 and 1, but got " + p);
      }
    }

    @Override
    public int[] outputShape(int[] in) {
      return in.clone();
    }

    @Override
    public String toString() {
      return "Dropout(p=" + pythonRepr(p) + ", inplace=False)";
    }
  }


  /** p = 0.5, PyTorch's default. */
  public Dropout() {
    this(0.5);
  }

  public Dropout(double p) {
    super(new Spec(p));
  }


  @Override
  public Tensor forward(Tensor x) {
    return Ops.dropout(x, spec().p(), isTraining());
  }


}
