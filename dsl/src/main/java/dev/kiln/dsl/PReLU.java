package dev.kiln.dsl;

import dev.kiln.runtime.Shapes;
import dev.kiln.runtime.Tensor;

/**
 * The parametric ReLU, as PyTorch's {@code nn.PReLU(num_parameters=1, init=0.25)}: {@code x > 0 ? x : weight * x} with a
 * learned slope {@code weight} (state-dict key {@code weight}, shape {@code [numParameters]}, every entry {@code init} at
 * first), one for all values or one per channel, the channels dimension 1 (a 0-d or 1-d input has one). The gradient
 * at 0 is the slope's, as PyTorch's.
 */
public class PReLU extends Layer<PReLU.Spec> {
  /** PReLU's hyper-parameters and shape rule: any shape (with {@code numParameters} channels when above 1), unchanged. */
  public record Spec(int numParameters, double init) implements LayerSpec {
    public Spec {
      if (numParameters < 1) {
        throw new IllegalArgumentException("PReLU: num_parameters must be at least 1, got " + numParameters);
      }
      if (!Float.isFinite((float) init)) {
        throw new IllegalArgumentException("PReLU: init must be a finite float, got " + init);
      }
    }

    @Override
    public int[] outputShape(int[] in) {
      if (numParameters > 1) {
        int channels = in.length >= 2 ? in[1] : 1; // PyTorch counts a 0-d or 1-d input as one channel
        if (channels != numParameters) {
          throw new ShapeException(this + " cannot take " + Shapes.toString(in) + ": mismatch of parameter numbers and input channel"
              + " size, found parameter numbers = " + numParameters + " and channel size = " + channels);
        }
      }
      return in.clone();
    }

    @Override
    public String toString() {
      return "PReLU(num_parameters=" + numParameters + ")";
    }
  }

  private final Tensor weight;

  /** One slope for all values, 0.25 at first: PyTorch's defaults. */
  public PReLU() {
    this(1, 0.25);
  }

  /** {@code numParameters} slopes (1, or the channels of the input), 0.25 at first. */
  public PReLU(int numParameters) {
    this(numParameters, 0.25);
  }

  public PReLU(int numParameters, double init) {
    super(new Spec(numParameters, init));
    weight = registerParameter("weight", Tensor.full((float) init, numParameters).requiresGrad(true));
  }

  public Tensor weight() {
    return weight;
  }

  @Override
  public Tensor forward(Tensor x) {
    outputShape(x.shape());
    return F.prelu(x, weight);
  }
}
