package dev.kiln.runtime;

import dev.kiln.runtime.cpu.ActivationCodeKernels;
import dev.kiln.runtime.cpu.MathKernels;
import dev.kiln.runtime.cpu.PReluKernels;
import dev.kiln.runtime.cpu.PiecewiseKernels;
import dev.kiln.runtime.cuda.ElementwiseKernels;

/**
 * The bodies of {@link Ops}' softplus, ELU, hardtanh, smooth L1 and Huber losses (and of the activations of
 * {@link ActivationCodeKernels}: hardswish, hardsigmoid, Mish, SELU, CELU, softsign, log-sigmoid, tanhshrink), with their
 * derivatives: {@link PiecewiseKernels} on the CPU, {@code cuda.PiecewiseKernels} on the GPU,
 * one pass each way (hardtanh's forward is clamp's kernel; its gradient, unlike clamp's, is 0
 * at the bounds). Results and gradients stay on the tensor's device.
 */
final class PiecewiseOps {
  private PiecewiseOps() {}

  /** A kernel writing {@code out} of {@code x}'s shape from {@code x} (and the incoming gradient, in a backward), either device. */
  @FunctionalInterface
  private interface Kernel {
    void run(Tensor out, Tensor x, Tensor g);
  }

  /** {@link Ops#softplus}. */
  static Tensor softplus(Tensor x, double beta, double threshold) {
    float b = finite("softplus", "beta", beta, x), t = finite("softplus", "threshold", threshold, x);
    if (b == 0) {
      throw new IllegalArgumentException("softplus: beta must not be 0 (it divides), got " + beta + " (input shape "
          + Shapes.toString(x.shape()) + ")");
    }
    return elementwise("softplus", x, (out, in, g) -> {
      if (in.device().isCuda()) {
        dev.kiln.runtime.cuda.PiecewiseKernels.softplusForward(out.writeCuda(), in.readCuda(), b, t, in.numel());
      } else {
        PiecewiseKernels.softplusForward(out.buffer(), out.offset(), in.readBuffer(), in.offset(), in.numel(), b, t);
      }
    }, (dx, in, g) -> {
      if (in.device().isCuda()) {
        dev.kiln.runtime.cuda.PiecewiseKernels.softplusBackward(dx.writeCuda(), g.readCuda(), in.readCuda(), b, t, in.numel());
      } else {
        PiecewiseKernels.softplusBackward(dx.buffer(), dx.offset(), g.readBuffer(), g.offset(), in.readBuffer(), in.offset(), in.numel(),
            b, t);
      }
    });
  }

  /** {@link Ops#elu}. */
  static Tensor elu(Tensor x, double alpha) {
    float a = finite("elu", "alpha", alpha, x);
    return elementwise("elu", x, (out, in, g) -> {
      if (in.device().isCuda()) {
        dev.kiln.runtime.cuda.PiecewiseKernels.eluForward(out.writeCuda(), in.readCuda(), a, in.numel());
      } else {
        PiecewiseKernels.eluForward(out.buffer(), out.offset(), in.readBuffer(), in.offset(), in.numel(), a);
      }
    }, (dx, in, g) -> {
      if (in.device().isCuda()) {
        dev.kiln.runtime.cuda.PiecewiseKernels.eluBackward(dx.writeCuda(), g.readCuda(), in.readCuda(), a, in.numel());
      } else {
        PiecewiseKernels.eluBackward(dx.buffer(), dx.offset(), g.readBuffer(), g.offset(), in.readBuffer(), in.offset(), in.numel(), a);
      }
    });
  }

  /** {@link Ops#hardtanh}. */
  static Tensor hardtanh(Tensor x, double min, double max) {
    float lo = finite("hardtanh", "min_val", min, x), hi = finite("hardtanh", "max_val", max, x);
    return elementwise("hardtanh", x, (out, in, g) -> {
      if (in.device().isCuda()) {
        ElementwiseKernels.clampForward(out.writeCuda(), in.readCuda(), lo, hi, in.numel());
      } else {
        MathKernels.clampForward(out.buffer(), out.offset(), in.readBuffer(), in.offset(), in.numel(), lo, hi);
      }
    }, (dx, in, g) -> {
      if (in.device().isCuda()) {
        dev.kiln.runtime.cuda.PiecewiseKernels.hardtanhBackward(dx.writeCuda(), g.readCuda(), in.readCuda(), lo, hi, in.numel());
      } else {
        PiecewiseKernels.hardtanhBackward(dx.buffer(), dx.offset(), g.readBuffer(), g.offset(), in.readBuffer(), in.offset(), in.numel(),
            lo, hi);
      }
    });
  }

  /**
   * One of {@link ActivationCodeKernels}' activations ({@code op} its code, {@code a} CELU's alpha), by those kernels on the
   * CPU and {@code cuda.ActivationCodeKernels} on the GPU, its gradient from the input.
   */
  static Tensor activation(String name, int op, Tensor x, double a) {
    float p = finite(name, "alpha", a, x);
    if (op == ActivationCodeKernels.CELU && p == 0) {
      throw new IllegalArgumentException(name + ": alpha must not be 0 (it divides), got " + a + " (input shape "
          + Shapes.toString(x.shape()) + ")");
    }
    return elementwise(name, x, (out, in, g) -> {
      if (in.device().isCuda()) {
        dev.kiln.runtime.cuda.ActivationCodeKernels.forward(op, out.writeCuda(), in.readCuda(), p, in.numel());
      } else {
        ActivationCodeKernels.forward(op, out.buffer(), out.offset(), in.readBuffer(), in.offset(), in.numel(), p);
      }
    }, (dx, in, g) -> {
      if (in.device().isCuda()) {
        dev.kiln.runtime.cuda.ActivationCodeKernels.backward(op, dx.writeCuda(), g.readCuda(), in.readCuda(), p, in.numel());
      } else {
        ActivationCodeKernels.backward(op, dx.buffer(), dx.offset(), g.readBuffer(), g.offset(), in.readBuffer(), in.offset(),
            in.numel(), p);
      }
    });
  }

  /**
   * {@link Ops#prelu}: {@code x > 0 ? x : weight * x}, one slope ({@code weight} of one value) or one per channel (dimension
   * 1 of x), by {@code cpu.PReluKernels} or {@code cuda.PReluKernels} over x seen as {@code [outer, channels, inner]}: one
   * pass each way, the slopes' gradient summed over every position but the channel.
   */
  static Tensor prelu(Tensor x, Tensor weight) {
    Devices.onCuda("prelu", x, weight);
    Ops.requireFloat("prelu", x);
    Ops.requireFloat("prelu", weight);
    int c = weight.numel();
    if (weight.dim() > 1) {
      throw new IllegalArgumentException("prelu: weight must be 0-d or 1-d, got " + Shapes.toString(weight.shape()));
    }
    int[] shape = x.shape();
    int channels = shape.length >= 2 ? shape[1] : 1; // PyTorch counts a 0-d or 1-d input as one channel
    if (c != 1 && c != channels) {
      throw new IllegalArgumentException("prelu: mismatch of parameter numbers and input channel size, found parameter numbers = " + c
          + " and channel size = " + channels + " (input " + Shapes.toString(shape) + ")");
    }
    int outer = shape.length == 0 ? 1 : shape[0];
    int inner = outer * c == 0 ? 0 : x.numel() / (outer * c);
    boolean cuda = x.device().isCuda();
    Tensor out;
    if (cuda) {
      out = Tensor.empty(x.device(), shape);
      dev.kiln.runtime.cuda.PReluKernels.forward(out.writeCuda(), x.readCuda(), weight.readCuda(), c, inner, x.numel());
    } else { // a pooled array where the engine has given one back (a training step's gradients), else a fresh one
      float[] values = ArrayPool.floats(x.numel()); // overwritten
      PReluKernels.forward(values, 0, x.readBuffer(), x.offset(), weight.readBuffer(), weight.offset(), outer, c, inner);
      out = Tensor.wrap(values, shape).sealed(); // the op's own array
    }
    if (!Ops.track(x, weight)) {
      return out;
    }
    return Tensor.ofNode(out, new Node(x, weight) {
      @Override public String name() {
        return "prelu";
      }

      @Override protected Tensor[] backward(Tensor g) {
        Tensor gd = g.to(x.device());
        Tensor dx = needsGrad(0) ? cuda ? Tensor.empty(x.device(), shape) : inputGradient(g) : null;
        Tensor dw = needsGrad(1) ? Tensor.empty(x.device(), weight.shape()) : null;
        if (cuda) {
          if (dx != null) {
            dev.kiln.runtime.cuda.PReluKernels.backward(dx.writeCuda(), gd.readCuda(), x.readCuda(), weight.readCuda(), c, inner, x.numel());
          }
          if (dw != null) {
            dev.kiln.runtime.cuda.PReluKernels.slopeBackward(dw.writeCuda(), gd.readCuda(), x.readCuda(), outer, c, inner, false);
          }
          CudaLayerOps.keepAlive(gd); // its block stays out of the allocator until the kernels are queued
        } else {
          PReluKernels.backward(dx == null ? null : dx.buffer(), dx == null ? 0 : dx.offset(), dw == null ? null : dw.buffer(),
              dw == null ? 0 : dw.offset(), false, gd.readBuffer(), gd.offset(), x.readBuffer(), x.offset(), weight.readBuffer(),
              weight.offset(), outer, c, inner);
          recycle(g); // read, and shared by nothing returned (a no-op where dx took its array)
        }
        return new Tensor[] {dx, dw};
      }

      /**
       * x's gradient on the CPU: written over the output's gradient where the engine owns it (the kernel reads each
       * value of a plane before writing it), else in a pooled or fresh array.
       */
      private Tensor inputGradient(Tensor g) {
        float[] own = takeGradient(g);
        return Tensor.gradient(own != null ? own : ArrayPool.floats(x.numel()), shape);
      }
    });
  }

  /** A hyper-parameter of an op on {@code x} as the float the kernels use, refused when it is not a finite one. */
  private static float finite(String op, String name, double value, Tensor x) {
    if (!Float.isFinite((float) value)) {
      throw new IllegalArgumentException(op + ": " + name + " must be a finite float, got " + value + " (input shape "
          + Shapes.toString(x.shape()) + ")");
    }
    return (float) value;
  }

  /** A one-input op of x's shape whose backward reads the input, run on x's device. */
  private static Tensor elementwise(String name, Tensor x, Kernel forward, Kernel backward) {
    Ops.requireFloat(name, x);
    Tensor out = Tensor.empty(x.device(), x.shape());
    forward.run(out, x, null);
    if (!Ops.track(x)) {
      return out;
    }
    return Tensor.ofNode(out, new ElementwiseNode(Reads.INPUT, x) {
      @Override public String name() {
        return name;
      }

      @Override protected Tensor[] backward(Tensor g) {
        return new Tensor[] {IndexOps.gradientOf(x, g, (dx, gd) -> backward.run(dx, x, gd))};
      }
    });
  }

  // ------------------------------------------------------------------ smooth L1 and Huber

  /**
   * {@link Ops#smoothL1LossPerElement} ({@code huber} false, {@code param} beta) or {@link
   * Ops#huberLossPerElement} ({@code param} delta); the target's gradient is the input's negated.
   */
  static Tensor smoothL1(String name, Tensor input, Tensor target, double param, boolean huber) {
    Devices.onCuda(name, input, target); // one device, or an error naming both
    LossOps.checkPointwiseLoss(name, input, target);
    float b = finite(name, huber ? "delta" : "beta", param, input);
    if (huber ? !(b > 0) : b < 0) {
      throw new IllegalArgumentException(name + " does not support " + (huber ? "non-positive values for delta" : "negative values for beta")
          + ", got " + param + " (input shape " + Shapes.toString(input.shape()) + ")");
    }
    boolean cuda = input.device().isCuda();
    int n = input.numel();
    Tensor out = Tensor.empty(input.device(), input.shape());
    if (cuda) {
      dev.kiln.runtime.cuda.PiecewiseKernels.smoothL1Forward(out.writeCuda(), input.readCuda(), target.readCuda(), b, huber, n);
    } else {
      PiecewiseKernels.smoothL1Forward(out.buffer(), out.offset(), input.readBuffer(), input.offset(), target.readBuffer(), target.offset(),
          n, b, huber);
    }
    if (!Ops.track(input, target)) {
      return out;
    }
    return Tensor.ofNode(out, new Node(input, target) {
      @Override public String name() {
        return name;
      }

      @Override protected Tensor[] backward(Tensor g) {
        Tensor dx = IndexOps.gradientOf(input, g, (d, gd) -> {
          if (cuda) {
            dev.kiln.runtime.cuda.PiecewiseKernels.smoothL1Backward(d.writeCuda(), gd.readCuda(), input.readCuda(), target.readCuda(), b,
                huber, n);
          } else {
            PiecewiseKernels.smoothL1Backward(d.buffer(), d.offset(), gd.readBuffer(), gd.offset(), input.readBuffer(), input.offset(),
                target.readBuffer(), target.offset(), n, b, huber);
          }
        });
        return new Tensor[] {needsGrad(0) ? dx : null, needsGrad(1) ? Ops.scale(dx, -1f) : null};
      }
    });
  }
}
