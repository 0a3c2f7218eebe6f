package dev.kiln.dsl;

import dev.kiln.runtime.Tensor;

/** A loss: {@code criterion.apply(prediction, target)} returns a tensor to call {@code backward()} on. */
public abstract class Loss {
  private final Reduction reduction;

  protected Loss(Reduction reduction) {
    if (reduction == null) {
      throw new IllegalArgumentException(getClass().getSimpleName() + ": reduction must not be null");
    }
    this.reduction = reduction;
  }

  public abstract Tensor apply(Tensor prediction, Tensor target);

  public Reduction reduction() {
    return reduction;
  }

  /**
   * A class-index loss with PyTorch's {@code ignore_index}: null when no target is {@code
   * ignoreIndex}; otherwise {@code perSample} of the targets with the ignored ones set to class 0,
   * their losses (and so their gradients) zeroed, reduced as {@code reduction} says, the mean over
   * the kept targets only (NaN when none is kept, as PyTorch's).
   */
  static Tensor ignoring(Tensor target, int ignoreIndex, Reduction reduction, java.util.function.UnaryOperator<Tensor> perSample) {
    if (target.dtype() != dev.kiln.runtime.DType.INT32) {
      return null;
    }
    int[] t = target.toIntArray();
    float[] keep = new float[t.length];
    int kept = 0;
    for (int i = 0; i < t.length; i++) {
      if (t[i] == ignoreIndex) {
        t[i] = 0;
      } else {
        keep[i] = 1f;
        kept++;
      }
    }
    if (kept == t.length) {
      return null;
    }
    Tensor safe = Tensor.labels(t).reshape(target.shape()).to(target.device());
    Tensor losses = perSample.apply(safe).mul(Tensor.of(keep, target.shape()).to(target.device()));
    return switch (reduction) {
      // every target ignored: NaN, as PyTorch's, with a gradient of 0 (not NaN through 1 / 0)
      case MEAN -> kept == 0 ? losses.sum().mul(0f).add(Float.NaN) : losses.sum().div((float) kept);
      case SUM -> losses.sum();
      case NONE -> losses;
    };
  }

  /** Per-element (or per-sample) losses reduced as {@code reduction} says: their mean, their sum, or themselves. */
  static Tensor reduce(Tensor losses, Reduction reduction) {
    return switch (reduction) {
      case MEAN -> losses.mean();
      case SUM -> losses.sum();
      case NONE -> losses;
    };
  }

  /** A loss of three tensors refused through the two-tensor {@link #apply}, naming the call to make instead. */
  static IllegalArgumentException threeInputs(Loss loss, String arguments) {
    return new IllegalArgumentException(loss.getClass().getSimpleName() + " takes three tensors: call apply(" + arguments + ")");
  }

  /** The shapes of two tensors a loss needs equal, or an error naming both. */
  static void sameShape(String loss, String a, Tensor x, String b, Tensor y) {
    if (!java.util.Arrays.equals(x.shape(), y.shape())) {
      throw new IllegalArgumentException(loss + ": " + a + " " + dev.kiln.runtime.Shapes.toString(x.shape()) + " and " + b + " "
          + dev.kiln.runtime.Shapes.toString(y.shape()) + " must have the same shape");
    }
  }

  @Override
  public String toString() {
    return getClass().getSimpleName() + "()";
  }
}
