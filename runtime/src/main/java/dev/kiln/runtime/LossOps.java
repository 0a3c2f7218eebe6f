package dev.kiln.runtime;

import static dev.kiln.runtime.Ops.*;

import dev.kiln.runtime.cpu.ActivationKernels;
import dev.kiln.runtime.cpu.CpuKernels;
import java.util.Arrays;

/**
 * The losses of eager mode: cross entropy and NLL (with their per-sample forms), L1, MSE and the binary cross
 * entropies, through the shared pointwise-loss node. Their public entries are in {@link Ops}.
 */
final class LossOps {
  private LossOps() {}

  public static Tensor crossEntropy(Tensor logits, Tensor target, boolean mean) {
    if (Devices.onCuda("cross_entropy", logits, target)) {
      return CudaOps.crossEntropy(logits, target, mean);
    }
    CrossEntropy ce = CrossEntropy.forward(logits, target);
    double s = 0;
    for (float l : ce.losses) {
      s += l;
    }
    float factor = mean ? 1f / ce.rows : 1f;
    float[] out = {(float) (s * factor)};
    if (!track(logits)) {
      return Tensor.wrap(out);
    }
    return Tensor.ofNode(out, new int[0], new Node(logits) {
      @Override public String name() {
        return "cross_entropy";
      }

      @Override protected Tensor[] backward(Tensor g) {
        return new Tensor[] {ce.backward(new float[] {g.item() * factor}, true)};
      }
    });
  }

  public static Tensor crossEntropyPerSample(Tensor logits, Tensor target) {
    if (Devices.onCuda("cross_entropy", logits, target)) {
      return CudaOps.crossEntropyPerSample(logits, target);
    }
    CrossEntropy ce = CrossEntropy.forward(logits, target);
    if (!track(logits)) {
      return Tensor.wrap(ce.losses, ce.rows);
    }
    return Tensor.ofNode(ce.losses, new int[] {ce.rows}, new Node(logits) {
      @Override public String name() {
        return "cross_entropy";
      }

      @Override protected Tensor[] backward(Tensor g) {
        return new Tensor[] {ce.backward(g.toFloatArray(), false)};
      }
    });
  }

  public static Tensor nllLossPerSample(Tensor input, Tensor target) {
    Devices.onCuda("nll_loss", input, target); // one device, or an error naming both
    if (input.dtype() != DType.FLOAT32) {
      throw new IllegalArgumentException("nll_loss: the input (log-probabilities) must be a float tensor, got "
          + input.dtype() + " of shape " + Shapes.toString(input.shape()));
    }
    requireRank("nll_loss", "input (log-probabilities)", input, 2);
    if (target.dtype() != DType.INT32) {
      throw new IllegalArgumentException("nll_loss: target must hold class indices (Tensor.labels(...)), got a float tensor"
          + " of shape " + Shapes.toString(target.shape()));
    }
    int n = input.size(0), classes = input.size(1);
    if (target.dim() != 1 || target.size(0) != n) {
      throw new IllegalArgumentException("nll_loss: input " + Shapes.toString(input.shape()) + " needs a target of shape ["
          + n + "], got " + Shapes.toString(target.shape()));
    }
    int[] t = target.toIntArray();
    float[] x = input.toFloatArray();
    float[] out = new float[n];
    for (int i = 0; i < n; i++) {
      if (t[i] < 0 || t[i] >= classes) {
        throw new IllegalArgumentException("nll_loss: target " + t[i] + " of sample " + i + " is out of range for "
            + classes + " classes (0.." + (classes - 1) + ")");
      }
      out[i] = -x[i * classes + t[i]];
    }
    Tensor result = Tensor.wrap(out, n).to(input.device());
    if (!track(input)) {
      return result;
    }
    return Tensor.ofNode(result, new Node(input) {
      @Override protected boolean savesInputs() { // PyTorch saves the target, not the input
        return false;
      }

      @Override public String name() {
        return "nll_loss";
      }

      @Override protected Tensor[] backward(Tensor g) {
        float[] gd = g.toFloatArray();
        float[] dx = new float[n * classes];
        for (int i = 0; i < n; i++) {
          dx[i * classes + t[i]] = -gd[i];
        }
        return new Tensor[] {Tensor.gradient(dx, n, classes).to(input.device())};
      }
    });
  }

  public static Tensor nllLoss(Tensor input, Tensor target, boolean mean) {
    return reduce(nllLossPerSample(input, target), mean);
  }

  /** Checks cross-entropy's arguments: float logits {@code [N, C]}, class indices {@code [N]}. Shared with {@link CudaOps}. */
  static void checkCrossEntropy(Tensor logits, Tensor target) {
    if (logits.dtype() != DType.FLOAT32) {
      throw new IllegalArgumentException("cross_entropy: the input (logits) must be a float tensor, got "
          + logits.dtype() + " of shape " + Shapes.toString(logits.shape())
          + (target.dtype() == DType.FLOAT32 ? "; are the input and the target swapped? (apply(prediction, target))" : ""));
    }
    requireRank("cross_entropy", "input (logits)", logits, 2);
    if (target.dtype() != DType.INT32) {
      throw new IllegalArgumentException(
          "cross_entropy: target must hold class indices (Tensor.labels(...)), got a float tensor of shape "
              + Shapes.toString(target.shape()));
    }
    if (target.dim() != 1 || target.size(0) != logits.size(0)) {
      throw new IllegalArgumentException(
          "cross_entropy: input " + Shapes.toString(logits.shape()) + " needs a target of shape ["
              + logits.size(0) + "], got " + Shapes.toString(target.shape()));
    }
  }

  /** Forward state of one cross-entropy call, kept for its backward. */
  private static final class CrossEntropy {
    final int rows;
    final int classes;
    final float[] losses;
    final float[] probs;
    final Tensor target;

    private CrossEntropy(int rows, int classes, Tensor target) {
      this.rows = rows;
      this.classes = classes;
      this.losses = new float[rows];
      this.probs = new float[rows * classes];
      this.target = target;
    }

    static CrossEntropy forward(Tensor logits, Tensor target) {
      checkCrossEntropy(logits, target);
      CrossEntropy ce = new CrossEntropy(logits.size(0), logits.size(1), target);
      CpuKernels.crossEntropyForward(
          ce.losses, ce.probs, logits.readBuffer(), logits.offset(), target.readBuffer(), target.offset(), ce.rows, ce.classes);
      return ce;
    }

    Tensor backward(float[] scale, boolean uniform) {
      float[] d = new float[rows * classes];
      CpuKernels.crossEntropyBackward(d, scale, uniform, probs, target.readBuffer(), target.offset(), rows, classes);
      return Tensor.wrap(d, rows, classes);
    }
  }

  public static Tensor l1Loss(Tensor input, Tensor target, boolean mean) {
    return reduce(l1LossPerElement(input, target), mean);
  }

  public static Tensor l1LossPerElement(Tensor input, Tensor target) {
    if (Devices.onCuda("l1_loss", input, target)) {
      return CudaOps.l1LossPerElement(input, target);
    }
    return pointwiseLoss("l1_loss", input, target, ActivationKernels::l1Forward, ActivationKernels::l1Backward);
  }

  public static Tensor mseLoss(Tensor input, Tensor target, boolean mean) {
    return reduce(mseLossPerElement(input, target), mean);
  }

  public static Tensor mseLossPerElement(Tensor input, Tensor target) {
    if (Devices.onCuda("mse_loss", input, target)) {
      return CudaOps.mseLossPerElement(input, target);
    }
    return pointwiseLoss("mse_loss", input, target, ActivationKernels::mseForward, ActivationKernels::mseBackward);
  }

  public static Tensor binaryCrossEntropyWithLogitsPerElement(Tensor logits, Tensor target) {
    return binaryLoss("binary_cross_entropy_with_logits", logits, target, false);
  }

  public static Tensor binaryCrossEntropyWithLogits(Tensor logits, Tensor target, boolean mean) {
    return reduce(binaryCrossEntropyWithLogitsPerElement(logits, target), mean);
  }

  public static Tensor binaryCrossEntropyPerElement(Tensor probabilities, Tensor target) {
    return binaryLoss("binary_cross_entropy", probabilities, target, true);
  }

  public static Tensor binaryCrossEntropy(Tensor probabilities, Tensor target, boolean mean) {
    return reduce(binaryCrossEntropyPerElement(probabilities, target), mean);
  }

  /** {@code log(1 + exp(z))} without overflow: {@code max(z, 0) + log1p(exp(-|z|))}. */
  private static double softplus(double z) {
    return Math.max(z, 0) + Math.log1p(Math.exp(-Math.abs(z)));
  }

  private static Tensor binaryLoss(String name, Tensor input, Tensor target, boolean probabilities) {
    Devices.onCuda(name, input, target); // one device, or an error naming both
    checkPointwiseLoss(name, input, target);
    float[] x = input.toFloatArray(), y = target.toFloatArray();
    float[] out = new float[x.length];
    for (int i = 0; i < x.length; i++) {
      double v = x[i], t = y[i];
      if (probabilities && !(v >= 0 && v <= 1)) {
        throw new IllegalArgumentException(name + ": all elements of input should be between 0 and 1, got " + x[i]
            + " at flat index " + i + " of shape " + Shapes.toString(input.shape()) + " (logits belong in the with-logits form)");
      }
      out[i] = (float) (probabilities
          ? -(t * Math.max(Math.log(v), -100) + (1 - t) * Math.max(Math.log1p(-v), -100))
          : (t == 0 ? 0 : t * softplus(-v)) + (t == 1 ? 0 : (1 - t) * softplus(v))); // no inf - inf at infinite logits
    }
    Tensor result = Tensor.wrap(out, input.shape()).to(input.device());
    if (!track(input, target)) {
      return result;
    }
    return Tensor.ofNode(result, new Node(input, target) {
      @Override public String name() {
        return name;
      }

      @Override protected Tensor[] backward(Tensor g) {
        float[] gd = g.toFloatArray();
        float[] dx = needsGrad(0) ? new float[x.length] : null;
        float[] dy = needsGrad(1) ? new float[x.length] : null;
        for (int i = 0; i < x.length; i++) {
          double v = x[i], t = y[i];
          if (dx != null) {
            dx[i] = (float) (gd[i] * (probabilities ? (v - t) / Math.max(v * (1 - v), 1e-12) : 1 / (1 + Math.exp(-v)) - t));
          }
          if (dy != null) {
            dy[i] = (float) (gd[i] * (probabilities ? Math.log1p(-v) - Math.log(v) : -v));
          }
        }
        return new Tensor[] {
          dx == null ? null : Tensor.gradient(dx, input.shape()).to(input.device()),
          dy == null ? null : Tensor.gradient(dy, input.shape()).to(input.device())
        };
      }
    });
  }

  /** Checks the arguments of a per-element loss: two float tensors of one shape. Shared with {@link CudaOps}. */
  static void checkPointwiseLoss(String name, Tensor input, Tensor target) {
    requireFloat(name, input);
    requireFloat(name, target);
    if (!Arrays.equals(input.shape(), target.shape())) {
      throw new IllegalArgumentException(
          name + ": input " + Shapes.toString(input.shape()) + " and target " + Shapes.toString(target.shape())
              + " must have the same shape");
    }
  }

  /**
   * A loss's reduction: the mean or the sum of its per-element values. The mean of none is NaN, as
   * PyTorch's losses give it (an empty batch), not {@link Ops#mean}'s error; its gradient is empty.
   */
  static Tensor reduce(Tensor perElement, boolean average) {
    if (average && perElement.numel() == 0) {
      return scale(sum(perElement), Float.NaN);
    }
    return average ? mean(perElement) : sum(perElement);
  }

  /** A kernel writing {@code n} per-element losses from inputs and targets. */
  @FunctionalInterface
  private interface LossForward {
    void run(float[] out, int outOff, float[] x, int xOff, float[] target, int tOff, int n);
  }

  /** A kernel writing the input gradient of per-element losses; the target's gradient is its negative. */
  @FunctionalInterface
  private interface LossBackward {
    void run(float[] dx, int dxOff, float[] dout, int dOff, float[] x, int xOff, float[] target, int tOff, int n);
  }

  /** Runs a per-element loss of two same-shaped tensors and records its backward to both. */
  private static Tensor pointwiseLoss(String name, Tensor input, Tensor target, LossForward forwardKernel, LossBackward backwardKernel) {
    Devices.requireCpu(name, input, target); // as in unary: CUDA tensors went to CudaOps
    checkPointwiseLoss(name, input, target);
    int n = input.numel();
    float[] out = new float[n];
    forwardKernel.run(out, 0, input.readBuffer(), input.offset(), target.readBuffer(), target.offset(), n);
    if (!track(input, target)) {
      return Tensor.wrap(out, input.shape());
    }
    return Tensor.ofNode(out, input.shape(), new Node(input, target) {
      @Override public String name() {
        return name;
      }

      @Override protected Tensor[] backward(Tensor g) {
        float[] d = new float[n];
        backwardKernel.run(d, 0, g.readBuffer(), g.offset(), input.readBuffer(), input.offset(), target.readBuffer(), target.offset(), n);
        Tensor dInput = Tensor.gradient(d, input.shape());
        return new Tensor[] {needsGrad(0) ? dInput : null, needsGrad(1) ? scale(dInput, -1f) : null};
      }
    });
  }
}
