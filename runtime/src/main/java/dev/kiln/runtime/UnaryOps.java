package dev.kiln.runtime;

import static dev.kiln.runtime.Ops.*;

import dev.kiln.runtime.cpu.ActivationKernels;
import dev.kiln.runtime.cpu.CpuKernels;
import dev.kiln.runtime.cpu.MathKernels;

/**
 * Element-wise functions of one tensor and softmax: exp, log, sin, cos, sqrt, abs, neg, pow, the activations
 * (ReLU with its node, which a following max pool reads, sigmoid, GELU, SiLU, tanh, leaky ReLU, clamp) and
 * softmax/log-softmax, through the shared {@link #unary} helpers. Their public entries are in {@link Ops}.
 */
final class UnaryOps {
  private UnaryOps() {}

  public static Tensor relu(Tensor x) {
    if (Devices.onCuda("relu", x)) {
      return CudaOps.relu(x);
    }
    requireFloat("relu", x);
    ReluNode node = track(x) ? new ReluNode(x) : null;
    Tensor y;
    if (x.pendingValues() instanceof Deferred.BatchNorm bn) {
      // a batch norm's output not computed yet: normalised and clamped in one pass when read (the compiled
      // steps' fusion, the same values), and the batch norm's own map not at all unless read
      y = Tensor.deferred(new Deferred.BatchNormRelu(bn), x.shape(), node, bn.x());
    } else {
      int n = x.numel();
      float[] out = ArrayPool.floats(n); // overwritten
      if (x.pendingValues() instanceof Deferred.Add add) {
        // a sum not computed yet (a residual join): added and clamped in one pass, the compiled join's kernel (the
        // same values); the sum's own map stays unwritten unless read
        CpuKernels.addForward(out, 0, add.a().readBuffer(), add.a().offset(), add.b().readBuffer(), add.b().offset(), n, true);
      } else {
        CpuKernels.reluForward(out, 0, x.readBuffer(), x.offset(), n);
      }
      // the array is the op's own (sealed): a residual join or a batch norm after it may read it later (Deferred)
      y = (node == null ? Tensor.wrap(out, x.shape()) : Tensor.ofNode(out, x.shape(), node)).sealed();
    }
    if (node != null) {
      node.output = y;
    }
    return y;
  }

  /** ReLU's node on the CPU, a class of its own so that a max pool's backward after it can apply its mask ({@link Tensor#reluMasked}). */
  static final class ReluNode extends Node {
    /** The output, whose values the backward reads (computed then if they were deferred and never read). */
    private Tensor output;

    ReluNode(Tensor x) {
      super(x);
    }

    @Override protected boolean savesInputs() {
      return false;
    }

    @Override protected boolean savesOutput() {
      return true;
    }

    @Override public String name() {
      return "relu";
    }

    @Override protected Tensor[] backward(Tensor g) {
      float[] own = takeGradient(g); // g's array when only the engine held it: masked in place
      if (g.reluMasked == this) { // masked already, by the max pool that alone read this output
        return new Tensor[] {own != null ? Tensor.gradient(own, g.shape()) : g};
      }
      int n = output.numel();
      float[] dx = own != null ? own : new float[n];
      CpuKernels.reluBackward(dx, 0, g.readBuffer(), g.offset(), output.readBuffer(), output.offset(), n);
      return new Tensor[] {Tensor.gradient(dx, inputs[0].shape())};
    }
  }

  public static Tensor exp(Tensor x) {
    if (Devices.onCuda("exp", x)) {
      return CudaOps.exp(x);
    }
    return unary("exp", x, Reads.OUTPUT, MathKernels::expForward, MathKernels::expBackward);
  }

  public static Tensor sin(Tensor x) {
    if (Devices.onCuda("sin", x)) {
      return CudaOps.sin(x);
    }
    return unary("sin", x, Reads.INPUT, MathKernels::sinForward,
        (dx, dxOff, g, gOff, y, yOff, n) -> MathKernels.sinBackward(dx, dxOff, g, gOff, x.readBuffer(), x.offset(), n));
  }

  public static Tensor cos(Tensor x) {
    if (Devices.onCuda("cos", x)) {
      return CudaOps.cos(x);
    }
    return unary("cos", x, Reads.INPUT, MathKernels::cosForward,
        (dx, dxOff, g, gOff, y, yOff, n) -> MathKernels.cosBackward(dx, dxOff, g, gOff, x.readBuffer(), x.offset(), n));
  }

  public static Tensor log(Tensor x) {
    if (Devices.onCuda("log", x)) {
      return CudaOps.log(x);
    }
    return unary("log", x, Reads.INPUT, MathKernels::logForward,
        (dx, dxOff, g, gOff, y, yOff, n) -> MathKernels.logBackward(dx, dxOff, g, gOff, x.readBuffer(), x.offset(), n));
  }

  public static Tensor sqrt(Tensor x) {
    if (Devices.onCuda("sqrt", x)) {
      return CudaOps.sqrt(x);
    }
    return unary("sqrt", x, Reads.OUTPUT, MathKernels::sqrtForward, MathKernels::sqrtBackward);
  }

  public static Tensor abs(Tensor x) {
    if (Devices.onCuda("abs", x)) {
      return CudaOps.abs(x);
    }
    return unary("abs", x, Reads.INPUT, MathKernels::absForward,
        (dx, dxOff, g, gOff, y, yOff, n) -> MathKernels.absBackward(dx, dxOff, g, gOff, x.readBuffer(), x.offset(), n));
  }

  public static Tensor neg(Tensor x) {
    if (Devices.onCuda("neg", x)) {
      return CudaOps.neg(x);
    }
    return unary("neg", x, Reads.NOTHING, MathKernels::negate, (dx, dxOff, g, gOff, y, yOff, n) -> MathKernels.negate(dx, dxOff, g, gOff, n));
  }

  public static Tensor pow(Tensor x, float exponent) {
    if (!Float.isFinite(exponent)) {
      throw new IllegalArgumentException("pow: the exponent must be finite, got " + exponent);
    }
    if (Devices.onCuda("pow", x)) {
      return CudaOps.pow(x, exponent);
    }
    return unary("pow", x, Reads.INPUT, (out, outOff, in, inOff, n) -> MathKernels.powForward(out, outOff, in, inOff, n, exponent),
        (dx, dxOff, g, gOff, y, yOff, n) -> MathKernels.powBackward(dx, dxOff, g, gOff, x.readBuffer(), x.offset(), n, exponent));
  }

  public static Tensor sigmoid(Tensor x) {
    if (Devices.onCuda("sigmoid", x)) {
      return CudaOps.sigmoid(x);
    }
    return unary("sigmoid", x, Reads.OUTPUT, ActivationKernels::sigmoidForward, ActivationKernels::sigmoidBackward);
  }

  public static Tensor gelu(Tensor x) {
    return gelu(x, false);
  }

  /** GELU's tanh approximation ({@code Ops.gelu(x, "tanh")}), as {@link #gelu(Tensor)} with its own kernels. */
  public static Tensor geluTanh(Tensor x) {
    return gelu(x, true);
  }

  /** A GELU's forward kernel, its slope too unless that is null ({@link ActivationKernels#geluForward}). */
  @FunctionalInterface
  private interface GeluKernel {
    void forward(float[] out, int outOff, float[] x, int xOff, int n, float[] slope, int slopeOff);
  }

  private static Tensor gelu(Tensor x, boolean tanh) {
    if (Devices.onCuda("gelu", x)) {
      return tanh ? CudaOps.geluTanh(x) : CudaOps.gelu(x);
    }
    GeluKernel kernel = tanh ? ActivationKernels::geluTanhForward : ActivationKernels::geluForward;
    if (!track(x) && x.pendingValues() instanceof Deferred.Linear && x.takeOneRead() instanceof Deferred.Linear product) {
      // a linear layer's product not computed yet (an MLP's up-projection): computed into GELU's output, which GELU
      // then overwrites block by block (BlockMath.forBlocks copies each block first), the same bits
      float[] out = ArrayPool.floats(x.numel()); // overwritten
      product.fill(out);
      kernel.forward(out, 0, out, 0, out.length, null, 0);
      return Tensor.wrap(out, x.shape()).sealed(); // the op's own array: what reads it may defer (Deferred)
    }
    if (!track(x)) {
      return unary("gelu", x, Reads.INPUT, (out, outOff, in, inOff, n) -> kernel.forward(out, outOff, in, inOff, n, null, 0), null, true);
    }
    // with grad on the forward keeps the gradient's factor (Phi(x) + x phi(x), or the tanh form's) from the same
    // values, as a compiled model's forward does, and the backward is one product (the bits of the backward kernel's)
    requireFloat("gelu", x);
    int n = x.numel();
    float[] out = ArrayPool.floats(n), slope = ArrayPool.floats(n); // both overwritten
    kernel.forward(out, 0, x.readBuffer(), x.offset(), n, slope, 0);
    return Tensor.ofNode(out, x.shape(), new ElementwiseNode(Reads.INPUT, x) {
      @Override public String name() {
        return "gelu";
      }

      @Override protected Tensor[] backward(Tensor g) {
        // dx over g's array when only the engine holds it, else over the slope's when no backward reads it again
        // (both this node's alone), else a pooled one: element by element, so any of them may be read as it is written
        float[] own = takeGradient(g);
        boolean last = lastBackward();
        float[] dx = own != null ? own : last ? slope : ArrayPool.floats(n); // overwritten
        ActivationKernels.applyMask(dx, 0, g.readBuffer(), g.offset(), slope, 0, n);
        if (last && dx != slope) {
          ArrayPool.give(slope); // this node's alone, and no backward reads it again
        }
        return new Tensor[] {Tensor.gradient(dx, x.shape())};
      }
    });
  }

  public static Tensor silu(Tensor x) {
    if (Devices.onCuda("silu", x)) {
      return CudaOps.silu(x);
    }
    return unary("silu", x, Reads.INPUT, ActivationKernels::siluForward,
        (dx, dxOff, g, gOff, y, yOff, n) -> ActivationKernels.siluBackward(dx, dxOff, g, gOff, x.readBuffer(), x.offset(), n),
        true);
  }

  public static Tensor tanh(Tensor x) {
    if (Devices.onCuda("tanh", x)) {
      return CudaOps.tanh(x);
    }
    return unary("tanh", x, Reads.OUTPUT, ActivationKernels::tanhForward, ActivationKernels::tanhBackward);
  }

  public static Tensor leakyRelu(Tensor x, double negativeSlope) {
    if (!Float.isFinite((float) negativeSlope)) {
      throw new IllegalArgumentException("leaky_relu: negative_slope must be a finite float, got " + negativeSlope);
    }
    if (Devices.onCuda("leaky_relu", x)) {
      return CudaOps.leakyRelu(x, negativeSlope);
    }
    float slope = (float) negativeSlope;
    return unary("leaky_relu", x, Reads.INPUT,
        (out, outOff, in, inOff, n) -> ActivationKernels.leakyReluForward(out, outOff, in, inOff, n, slope),
        (dx, dxOff, g, gOff, y, yOff, n) -> ActivationKernels.leakyReluBackward(dx, dxOff, g, gOff, x.readBuffer(), x.offset(), n, slope));
  }

  public static Tensor clamp(Tensor x, float min, float max) {
    if (Float.isNaN(min) || Float.isNaN(max)) {
      throw new IllegalArgumentException("clamp: the bounds must be numbers, got " + (Float.isNaN(min) ? "a NaN min" : "a NaN max"));
    }
    if (Devices.onCuda("clamp", x)) {
      requireFloat("clamp", x);
      return CudaOps.clamp(x, min, max);
    }
    return unary("clamp", x, Reads.INPUT,
        (out, outOff, in, inOff, n) -> MathKernels.clampForward(out, outOff, in, inOff, n, min, max),
        (dx, dxOff, g, gOff, y, yOff, n) -> MathKernels.clampBackward(dx, dxOff, g, gOff, x.readBuffer(), x.offset(), n, min, max));
  }

  public static Tensor softmax(Tensor x, int dim) {
    if (Devices.onCuda("softmax", x)) {
      return CudaOps.softmax(x, dim, false);
    }
    Along a = Along.of("softmax", x, dim);
    // the backward reads each row's gradient before writing that row's (ActivationKernels.softmaxBackward): in place
    UnaryBackward backward = (dx, dxOff, g, gOff, y, yOff, n) ->
        ActivationKernels.softmaxBackward(dx, dxOff, g, gOff, y, yOff, a.outer(), a.size(), a.inner());
    if (x.pendingValues() instanceof Deferred.Scale && a.inner() == 1 && a.size() <= ActivationKernels.scaledRowsMax()
        && x.takeOneRead() instanceof Deferred.Scale sc) {
      // the scores' scale not computed yet (q @ k^T / sqrt(d)): each block of rows scaled in scratch, the same bits
      float[] out = ArrayPool.floats(x.numel()); // overwritten
      float[] scores = sc.x().readBufferOnce(); // deferred products (under no grad) computed into scratch, not kept
      ActivationKernels.softmaxForwardScaled(out, 0, scores, sc.x().offset(), sc.factor(), a.outer(), a.size());
      sc.x().doneReading(scores);
      return unaryResult("softmax", x, Reads.OUTPUT, out, backward, true);
    }
    return unary("softmax", x, Reads.OUTPUT,
        (out, outOff, in, inOff, n) -> ActivationKernels.softmaxForward(out, outOff, in, inOff, a.outer(), a.size(), a.inner()),
        backward, true);
  }

  public static Tensor logSoftmax(Tensor x, int dim) {
    if (Devices.onCuda("log_softmax", x)) {
      return CudaOps.softmax(x, dim, true);
    }
    Along a = Along.of("log_softmax", x, dim);
    return unary("log_softmax", x, Reads.OUTPUT,
        (out, outOff, in, inOff, n) -> ActivationKernels.logSoftmaxForward(out, outOff, in, inOff, a.outer(), a.size(), a.inner()),
        (dx, dxOff, g, gOff, y, yOff, n) ->
            ActivationKernels.logSoftmaxBackward(dx, dxOff, g, gOff, y, yOff, a.outer(), a.size(), a.inner()));
  }

  /** A kernel writing {@code n} outputs from {@code n} inputs (the forward of a shape-preserving op). */
  @FunctionalInterface
  interface UnaryForward {
    void run(float[] out, int outOff, float[] x, int xOff, int n);
  }

  /** A kernel writing the input gradient from the output gradient and the forward's output {@code y}. */
  @FunctionalInterface
  interface UnaryBackward {
    void run(float[] dx, int dxOff, float[] dout, int dOff, float[] y, int yOff, int n);
  }

  /** Runs a one-input op whose output has its input's shape, and records its backward. */
  static Tensor unary(String name, Tensor x, Reads reads, UnaryForward forwardKernel, UnaryBackward backwardKernel) {
    return unary(name, x, reads, forwardKernel, backwardKernel, false);
  }

  /**
   * {@link #unary}; with {@code backwardInPlace} the backward kernel may write the input's gradient over the output's
   * (a kernel of {@code BlockMath.forBlocks}, which copies each block of {@code dout} before writing that block of
   * {@code dx}, or softmax's, which reads each row of {@code dout} before writing that row), and does so when the engine
   * owns the gradient ({@link Node#takeGradient}).
   */
  static Tensor unary(String name, Tensor x, Reads reads, UnaryForward forwardKernel, UnaryBackward backwardKernel,
      boolean backwardInPlace) {
    Devices.requireCpu(name, x); // the public ops have sent CUDA tensors to CudaOps already
    requireFloat(name, x);
    int n = x.numel();
    float[] out = new float[n];
    forwardKernel.run(out, 0, x.readBuffer(), x.offset(), n);
    return unaryResult(name, x, reads, out, backwardKernel, backwardInPlace);
  }

  /** {@link #unary}'s output {@code out}, computed from {@code x}, with its node when {@code x} is tracked. */
  private static Tensor unaryResult(String name, Tensor x, Reads reads, float[] out, UnaryBackward backwardKernel,
      boolean backwardInPlace) {
    int n = x.numel();
    if (!track(x)) {
      return Tensor.wrap(out, x.shape()).sealed(); // the op's own array: what reads it may defer (Deferred)
    }
    return Tensor.ofNode(out, x.shape(), new ElementwiseNode(reads, x) {
      @Override public String name() {
        return name;
      }

      @Override protected Tensor[] backward(Tensor g) {
        float[] own = backwardInPlace ? takeGradient(g) : null;
        float[] dx = own != null ? own : new float[n];
        backwardKernel.run(dx, 0, g.readBuffer(), g.offset(), out, 0, n);
        return new Tensor[] {Tensor.gradient(dx, x.shape())};
      }
    });
  }
}
