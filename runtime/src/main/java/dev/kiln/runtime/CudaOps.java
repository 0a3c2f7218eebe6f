package dev.kiln.runtime;

import dev.kiln.runtime.cpu.ActivationKernels;
import dev.kiln.runtime.cpu.AvgPool2dShape;
import dev.kiln.runtime.cpu.CpuKernels;
import dev.kiln.runtime.cpu.Pool2dShape;
import dev.kiln.runtime.cuda.CoreKernels;
import dev.kiln.runtime.cuda.Cuda;
import dev.kiln.runtime.cuda.CudaBuffer;
import dev.kiln.runtime.cuda.CudaException;
import dev.kiln.runtime.cuda.ElementwiseKernels;
import dev.kiln.runtime.cuda.EmbeddingKernels;
import java.util.function.Supplier;

/**
 * The CUDA side of {@link Ops}'s element-wise ops, reductions, activations, losses, max
 * pooling, slicing and concatenation. Each is called by its {@code Ops} twin once {@link
 * Devices#onCuda} has found every tensor argument on the GPU; it makes the same checks (Ops' own,
 * so the messages are the same), runs {@link ElementwiseKernels} (slices and concatenations are
 * 2-d copies, {@code Cuda.copy2d}), and records a {@link Node} whose backward also runs on the GPU:
 * results and gradients stay on the device. The formulas are the CPU's (see the kernels), so
 * the two backends agree to float rounding.
 *
 * <p>A failed launch or allocation is rethrown as a {@link CudaException} that starts with the
 * op's name. A fault inside a kernel surfaces at the next synchronising call, which may belong to
 * a later op; {@code -Dkiln.cuda.sync=true} reports it at its own.
 */
final class CudaOps {
  private CudaOps() {}

  // ------------------------------------------------------------------ helpers

  /** Runs an op's allocations and launches, naming the op in any CUDA failure. */
  private static <T> T named(String op, Supplier<T> body) {
    try {
      return body.get();
    } catch (CudaException e) {
      throw new CudaException(op + ": " + e.getMessage(), e);
    }
  }

  private static Device cuda() {
    return Device.cuda();
  }

  /** A new, uninitialised tensor on the GPU, for a kernel to write. */
  private static Tensor empty(int... shape) {
    return Tensor.empty(cuda(), shape);
  }

  /** An incoming gradient on the GPU (the engine passes them there; a caller's seed may be on the CPU). */
  private static Tensor onGpu(Tensor g) {
    return g.device().isCuda() ? g : g.to(cuda());
  }

  /** A kernel writing {@code n} outputs from {@code n} inputs, by device address. */
  @FunctionalInterface
  private interface UnaryForward {
    void run(long out, long x, long n);
  }

  /** A kernel writing the input gradient from the output gradient, the input {@code x} and the output {@code y}. */
  @FunctionalInterface
  private interface UnaryBackward {
    void run(long dx, long g, long x, long y, long n);
  }

  /** Runs a one-input op whose output has its input's shape, and records its backward (Ops' {@code unary}). */
  private static Tensor unary(String name, Tensor x, Reads reads, UnaryForward forward, UnaryBackward backward) {
    Ops.requireFloat(name, x);
    int n = x.numel();
    Tensor out = named(name, () -> {
      Tensor y = empty(x.shape());
      forward.run(y.writeCuda(), x.readCuda(), n);
      return y;
    });
    if (!Ops.track(x)) {
      return out;
    }
    return Tensor.ofNode(out, new ElementwiseNode(reads, x) {
      @Override public String name() {
        return name;
      }

      @Override protected Tensor[] backward(Tensor g) {
        return named(name + " backward", () -> {
          Tensor dx = empty(x.shape());
          Tensor gd = onGpu(g);
          backward.run(dx.writeCuda(), gd.readCuda(), x.readCuda(), out.readCuda(), n);
          CudaLayerOps.keepAlive(gd); // its block stays out of the allocator until the kernel is queued
          return new Tensor[] {dx};
        });
      }
    });
  }

  // ------------------------------------------------------------------ element-wise

  /** {@link Ops#add}: b of a's shape or a's trailing dimensions; b's gradient summed back to its shape. */
  static Tensor add(Tensor a, Tensor b) {
    Ops.requireFloat("add", a);
    Ops.requireFloat("add", b);
    int repeats = Ops.broadcastRepeats("add", a, b);
    Tensor out = named("add", () -> {
      Tensor o = empty(a.shape());
      if (repeats == 1) {
        CoreKernels.add(o.writeCuda(), a.readCuda(), b.readCuda(), a.numel());
      } else {
        ElementwiseKernels.addRepeated(o.writeCuda(), a.readCuda(), b.readCuda(), b.numel(), a.numel());
      }
      return o;
    });
    if (!Ops.track(a, b)) {
      return out;
    }
    return Tensor.ofNode(out, new Node(a, b) {
      @Override public String name() {
        return "add";
      }

      @Override protected Tensor[] backward(Tensor g) {
        return named("add backward", () -> {
          Tensor gd = onGpu(g);
          return new Tensor[] {gd, needsGrad(1) ? reduceTo(gd, b, repeats) : null};
        });
      }
    });
  }

  /** Sums a gradient of the big operand's shape down to {@code small}'s (Ops' {@code reduceTo}). */
  private static Tensor reduceTo(Tensor g, Tensor small, int repeats) {
    if (repeats == 1) {
      return g.viewOf(small.shape(), null);
    }
    Tensor out = empty(small.shape());
    ElementwiseKernels.sumRows(out.writeCuda(), g.readCuda(), repeats, small.numel());
    return out;
  }

  /** {@link Ops#mul}: element-wise, b of a's shape or a's trailing dimensions. */
  static Tensor mul(Tensor a, Tensor b) {
    Ops.requireFloat("mul", a);
    Ops.requireFloat("mul", b);
    int repeats = Ops.broadcastRepeats("mul", a, b);
    Tensor out = named("mul", () -> product(a, b, repeats));
    if (!Ops.track(a, b)) {
      return out;
    }
    return Tensor.ofNode(out, new Node(a, b) {
      @Override public String name() {
        return "mul";
      }

      @Override protected Tensor[] backward(Tensor g) {
        return named("mul backward", () -> {
          Tensor gd = onGpu(g);
          Tensor da = needsGrad(0) ? product(gd, b, repeats) : null;
          Tensor db = needsGrad(1) ? reduceTo(product(gd, a, 1), b, repeats) : null;
          return new Tensor[] {da, db};
        });
      }
    });
  }

  /**
   * {@link Ops#div} of two tensors of one shape (Ops expands a broadcast operand first, and its
   * expansion sums the gradient back): a true quotient, and ATen's gradients {@code g / b} and
   * {@code -g * (y / b)}, the CPU's formulas, so the devices agree to the rounding of their sums.
   */
  static Tensor div(Tensor a, Tensor b) {
    Tensor out = named("div", () -> {
      Tensor o = empty(a.shape());
      ElementwiseKernels.div(o.writeCuda(), a.readCuda(), b.readCuda(), a.numel());
      return o;
    });
    if (!Ops.track(a, b)) {
      return out;
    }
    return Tensor.ofNode(out, new Node(a, b) {
      @Override public String name() {
        return "div";
      }

      @Override protected Tensor[] backward(Tensor g) {
        return named("div backward", () -> {
          Tensor gd = onGpu(g);
          Tensor da = needsGrad(0) ? empty(a.shape()) : null;
          Tensor db = needsGrad(1) ? empty(b.shape()) : null;
          ElementwiseKernels.divBackward(da == null ? 0 : da.writeCuda(), db == null ? 0 : db.writeCuda(), gd.readCuda(),
              b.readCuda(), out.readCuda(), a.numel());
          CudaLayerOps.keepAlive(gd);
          return new Tensor[] {da, db};
        });
      }
    });
  }

  /** {@code big * small} with small repeated {@code repeats} times over big (1: same number of elements). */
  private static Tensor product(Tensor big, Tensor small, int repeats) {
    Tensor o = empty(big.shape());
    if (repeats == 1) {
      ElementwiseKernels.mul(o.writeCuda(), big.readCuda(), small.readCuda(), big.numel());
    } else {
      ElementwiseKernels.mulRepeated(o.writeCuda(), big.readCuda(), small.readCuda(), small.numel(), big.numel());
    }
    return o;
  }

  /** {@link Ops#scale}: {@code a * s}. */
  static Tensor scale(Tensor a, float s) {
    Ops.requireFloat("scale", a);
    Tensor out = named("scale", () -> {
      Tensor o = empty(a.shape());
      ElementwiseKernels.scale(o.writeCuda(), a.readCuda(), s, a.numel());
      return o;
    });
    if (!Ops.track(a)) {
      return out;
    }
    return Tensor.ofNode(out, new Node(a) {
      @Override protected boolean savesInputs() { // as Ops.scale: the scalar is saved, not the input
        return false;
      }

      @Override public String name() {
        return "scale";
      }

      @Override protected Tensor[] backward(Tensor g) {
        return new Tensor[] {scale(onGpu(g), s)};
      }
    });
  }

  /** {@link Ops#relu}: the gradient passes where the output is positive. */
  static Tensor relu(Tensor x) {
    return unary("relu", x, Reads.OUTPUT, ElementwiseKernels::reluForward, (dx, g, in, y, n) -> ElementwiseKernels.reluBackward(dx, g, y, n));
  }

  /** {@link Ops#sigmoid}; the gradient is {@code y * (1 - y)}. */
  static Tensor sigmoid(Tensor x) {
    return unary("sigmoid", x, Reads.OUTPUT, ElementwiseKernels::sigmoidForward,
        (dx, g, in, y, n) -> ElementwiseKernels.sigmoidBackward(dx, g, y, n));
  }

  /** {@link Ops#gelu}; the gradient from the input. */
  static Tensor gelu(Tensor x) {
    return unary("gelu", x, Reads.INPUT, ElementwiseKernels::geluForward, (dx, g, in, y, n) -> ElementwiseKernels.geluBackward(dx, g, in, n));
  }

  /** {@link Ops#gelu(Tensor, String)}'s tanh approximation; the gradient from the input. */
  static Tensor geluTanh(Tensor x) {
    return unary("gelu", x, Reads.INPUT, ElementwiseKernels::geluTanhForward,
        (dx, g, in, y, n) -> ElementwiseKernels.geluTanhBackward(dx, g, in, n));
  }

  /** {@link Ops#silu}; the gradient from the input. */
  static Tensor silu(Tensor x) {
    return unary("silu", x, Reads.INPUT, ElementwiseKernels::siluForward, (dx, g, in, y, n) -> ElementwiseKernels.siluBackward(dx, g, in, n));
  }

  /** {@link Ops#tanh}; the gradient is {@code 1 - y^2}. */
  static Tensor tanh(Tensor x) {
    return unary("tanh", x, Reads.OUTPUT, ElementwiseKernels::tanhForward, (dx, g, in, y, n) -> ElementwiseKernels.tanhBackward(dx, g, y, n));
  }

  /** {@link Ops#sin}; the gradient {@code g cos(x)} from the input. */
  static Tensor sin(Tensor x) {
    return unary("sin", x, Reads.INPUT, ElementwiseKernels::sinForward, (dx, g, in, y, n) -> ElementwiseKernels.sinBackward(dx, g, in, n));
  }

  /** {@link Ops#cos}; the gradient {@code -g sin(x)} from the input. */
  static Tensor cos(Tensor x) {
    return unary("cos", x, Reads.INPUT, ElementwiseKernels::cosForward, (dx, g, in, y, n) -> ElementwiseKernels.cosBackward(dx, g, in, n));
  }

  /** {@link Ops#exp}; the gradient is {@code g * y}. */
  static Tensor exp(Tensor x) {
    return unary("exp", x, Reads.OUTPUT, ElementwiseKernels::expForward, (dx, g, in, y, n) -> ElementwiseKernels.mul(dx, g, y, n));
  }

  /** {@link Ops#log}; the gradient is {@code g / x}. */
  static Tensor log(Tensor x) {
    return unary("log", x, Reads.INPUT, ElementwiseKernels::logForward, (dx, g, in, y, n) -> ElementwiseKernels.logBackward(dx, g, in, n));
  }

  /** {@link Ops#sqrt}; the gradient is {@code g / (2 y)}. */
  static Tensor sqrt(Tensor x) {
    return unary("sqrt", x, Reads.OUTPUT, ElementwiseKernels::sqrtForward, (dx, g, in, y, n) -> ElementwiseKernels.sqrtBackward(dx, g, y, n));
  }

  /** {@link Ops#abs}; the gradient is {@code g * sign(x)}. */
  static Tensor abs(Tensor x) {
    return unary("abs", x, Reads.INPUT, ElementwiseKernels::absForward, (dx, g, in, y, n) -> ElementwiseKernels.absBackward(dx, g, in, n));
  }

  /** {@link Ops#neg}; the gradient is {@code -g}. */
  static Tensor neg(Tensor x) {
    return unary("neg", x, Reads.NOTHING, ElementwiseKernels::negate, (dx, g, in, y, n) -> ElementwiseKernels.negate(dx, g, n));
  }

  /** {@link Ops#pow}; the gradient is {@code g * e * x^(e - 1)}. */
  static Tensor pow(Tensor x, float exponent) {
    return unary("pow", x, Reads.INPUT, (out, in, n) -> ElementwiseKernels.powForward(out, in, exponent, n),
        (dx, g, in, y, n) -> ElementwiseKernels.powBackward(dx, g, in, exponent, n));
  }

  /** {@link Ops#leakyRelu}; the gradient is taken from the input, as the slope may be negative. */
  static Tensor leakyRelu(Tensor x, double negativeSlope) {
    float slope = (float) negativeSlope;
    return unary("leaky_relu", x, Reads.INPUT,
        (out, in, n) -> ElementwiseKernels.leakyReluForward(out, in, slope, n),
        (dx, g, in, y, n) -> ElementwiseKernels.leakyReluBackward(dx, g, in, slope, n));
  }

  /** {@link Ops#clamp}. */
  static Tensor clamp(Tensor x, float lo, float hi) {
    return unary("clamp", x, Reads.INPUT,
        (out, in, n) -> ElementwiseKernels.clampForward(out, in, lo, hi, n),
        (dx, g, in, y, n) -> ElementwiseKernels.clampBackward(dx, g, in, lo, hi, n));
  }

  /** {@link Ops#softmax} ({@code log} false) or {@link Ops#logSoftmax} along {@code dim}. */
  static Tensor softmax(Tensor x, int dim, boolean log) {
    String name = log ? "log_softmax" : "softmax";
    Ops.Along a = Ops.Along.of(name, x, dim);
    return unary(name, x, Reads.OUTPUT,
        (out, in, n) -> ElementwiseKernels.softmaxForward(out, in, a.outer(), a.size(), a.inner(), log),
        (dx, g, in, y, n) -> ElementwiseKernels.softmaxBackward(dx, g, y, a.outer(), a.size(), a.inner(), log));
  }

  /**
   * {@link Ops#dropout} on the GPU: the mask drawn on the device from a block of {@link
   * Kiln#generator()}'s draws (the draws the CPU's mask takes, so a seed gives the same mask on both
   * devices), kept on the device for the backward.
   */
  static Tensor dropout(Tensor x, double p) {
    Ops.requireFloat("dropout", x);
    int count = x.numel();
    long start = Kiln.generator().reserve(count);
    float keep = ActivationKernels.keepScale(p);
    Tensor m = named("dropout", () -> empty(x.shape()));
    return unary("dropout", x, Reads.OWN,
        (out, in, n) -> ElementwiseKernels.dropout(out, m.writeCuda(), in, start, p, keep, n),
        (dx, g, in, y, n) -> ElementwiseKernels.mul(dx, g, m.readCuda(), n));
  }

  // ------------------------------------------------------------------ reductions

  /** {@link Ops#transpose} of a {@code rows x cols} matrix. */
  static Tensor transpose(Tensor x, int rows, int cols) {
    return reshaping("transpose", x, new int[] {cols, rows},
        (out, in) -> ElementwiseKernels.transpose(out, in, rows, cols),
        (dx, g) -> ElementwiseKernels.transpose(dx, g, cols, rows));
  }

  /** The highest rank {@link #permute} takes; Ops permutes higher ones on the host. */
  static final int PERMUTE_RANK = ElementwiseKernels.PERMUTE_RANK;

  /**
   * {@link Ops#permute} (and {@code transpose(d0, d1)}) of a float tensor of at most {@value
   * ElementwiseKernels#PERMUTE_RANK} dimensions, {@code order} checked by Ops: one {@code
   * kiln_permute}, and the gradient through the same kernel by the inverse order.
   */
  static Tensor permute(String name, Tensor x, int[] order, int[] inverse, int[] outShape) {
    int[] shape = x.shape();
    Tensor out = named(name, () -> {
      Tensor o = empty(outShape);
      ElementwiseKernels.permute(o.writeCuda(), x.readCuda(), shape, order);
      return o;
    });
    if (!Ops.track(x)) {
      return out;
    }
    return Tensor.ofNode(out, new Node(x) {
      @Override protected boolean savesTensors() { // the backward reads the gradient alone, as the CPU's
        return false;
      }

      @Override public String name() {
        return name;
      }

      @Override protected Tensor[] backward(Tensor g) {
        return named(name + " backward", () -> {
          Tensor dx = empty(shape);
          Tensor gd = onGpu(g);
          ElementwiseKernels.permute(dx.writeCuda(), gd.readCuda(), outShape, inverse);
          CudaLayerOps.keepAlive(gd);
          return new Tensor[] {dx};
        });
      }
    });
  }

  /**
   * {@link Ops#where} where each operand repeats over the result's leading dimensions ({@link
   * Shapes#repeatsOver}): one {@code kiln_where}, and each branch's gradient one {@code
   * kiln_where_backward}, summed over the repeats in the CPU's order. The condition is copied on the
   * device when a backward needs it, so that it reads the mask as the forward did (the CPU keeps its
   * choices in an array).
   */
  /** Whether {@link #compare} has a kernel for the comparison {@code op} ({@code "eq"}, ...). */
  static boolean hasComparison(String op) {
    return ElementwiseKernels.COMPARISONS.contains(op);
  }

  /** {@link Ops#compare} on the device: a 0/1 mask without gradient, the operands repeating over {@code shape}. */
  static Tensor compare(String op, Tensor a, Tensor b, int[] shape) {
    int n = Shapes.numel(shape);
    return named(op, () -> {
      Tensor o = empty(shape);
      ElementwiseKernels.compare(o.writeCuda(), a.readCuda(), b.readCuda(), a.numel(), b.numel(), op, n);
      return o;
    });
  }

  static Tensor where(Tensor condition, Tensor a, Tensor b, int[] shape) {
    int n = Shapes.numel(shape), nc = condition.numel();
    boolean track = Ops.track(a, b);
    Tensor[] chosen = new Tensor[1];
    Tensor out = named("where", () -> {
      Tensor o = empty(shape);
      ElementwiseKernels.where(o.writeCuda(), condition.readCuda(), a.readCuda(), b.readCuda(), nc, a.numel(), b.numel(), n);
      if (track) {
        chosen[0] = empty(condition.shape());
        ElementwiseKernels.scale(chosen[0].writeCuda(), condition.readCuda(), 1f, nc); // only c != 0 is read
      }
      return o;
    });
    if (!track) {
      return out;
    }
    Tensor c = chosen[0];
    return Tensor.ofNode(out, new Node(a, b) {
      @Override protected boolean savesInputs() { // the condition, not the inputs
        return false;
      }

      @Override public String name() {
        return "where";
      }

      @Override protected Tensor[] backward(Tensor g) {
        return named("where backward", () -> {
          Tensor gd = onGpu(g);
          Tensor da = null, db = null;
          if (needsGrad(0)) {
            da = empty(a.shape());
            ElementwiseKernels.whereBackward(da.writeCuda(), gd.readCuda(), c.readCuda(), nc, a.numel(), true, n);
          }
          if (needsGrad(1)) {
            db = empty(b.shape());
            ElementwiseKernels.whereBackward(db.writeCuda(), gd.readCuda(), c.readCuda(), nc, b.numel(), false, n);
          }
          CudaLayerOps.keepAlive(gd, c);
          return new Tensor[] {da, db};
        });
      }
    });
  }

  /** Ops' {@code reduceAlong}: a sum times {@code factor} along the middle of {@code [outer, size, inner]}. */
  static Tensor reduceAlong(String name, Tensor x, int outer, int size, int inner, float factor, int[] outShape) {
    return reshaping(name, x, outShape,
        (out, in) -> ElementwiseKernels.sumAlong(out, in, outer, size, inner, factor),
        (dx, g) -> ElementwiseKernels.spreadAlong(dx, g, outer, size, inner, factor));
  }

  /** A kernel from one device array to another, by address. */
  @FunctionalInterface
  private interface AddressKernel {
    void run(long out, long in);
  }

  /**
   * Runs a one-input op whose output has a shape of its own ({@code outShape}), and records its
   * backward, which writes the input's gradient from the output's alone.
   */
  private static Tensor reshaping(String name, Tensor x, int[] outShape, AddressKernel forward, AddressKernel backward) {
    Tensor out = named(name, () -> {
      Tensor o = empty(outShape);
      forward.run(o.writeCuda(), x.readCuda());
      return o;
    });
    if (!Ops.track(x)) {
      return out;
    }
    return Tensor.ofNode(out, new Node(x) {
      @Override public String name() {
        return name;
      }

      @Override protected Tensor[] backward(Tensor g) {
        return named(name + " backward", () -> {
          Tensor dx = empty(x.shape());
          Tensor gd = onGpu(g);
          backward.run(dx.writeCuda(), gd.readCuda());
          CudaLayerOps.keepAlive(gd); // its block stays out of the allocator until the kernel is queued
          return new Tensor[] {dx};
        });
      }
    });
  }

  /** Ops' {@code reduceAll}: {@code factor * sum(x)} as a rank-0 tensor; the gradient is {@code g * factor} everywhere. */
  static Tensor reduceAll(Tensor x, float factor, String name) {
    Ops.requireFloat(name, x);
    Tensor out = named(name, () -> {
      Tensor o = empty();
      ElementwiseKernels.sum(o.writeCuda(), x.readCuda(), x.numel(), factor);
      return o;
    });
    if (!Ops.track(x)) {
      return out;
    }
    return Tensor.ofNode(out, new Node(x) {
      @Override public String name() {
        return name;
      }

      @Override protected Tensor[] backward(Tensor g) {
        return named(name + " backward", () -> {
          Tensor dx = empty(x.shape());
          Tensor gd = onGpu(g);
          ElementwiseKernels.fillScaled(dx.writeCuda(), gd.readCuda(), factor, x.numel());
          CudaLayerOps.keepAlive(gd); // its block stays out of the allocator until the kernel is queued
          return new Tensor[] {dx};
        });
      }
    });
  }

  /** Whether {@link #variance} takes these runs ({@code ElementwiseKernels.VARIANCE_RUNS} at most: four reduced runs). */
  static boolean varianceTakes(int[] runs) {
    return runs.length <= ElementwiseKernels.VARIANCE_RUNS;
  }

  /**
   * Ops' {@code varianceOver} on the device: {@code ElementwiseKernels.varianceOver} (two passes in double per
   * output, the CPU's order, so the CPU's bits), recorded as {@code var}; the gradient {@code (2 / divisor) g (x -
   * mean)} from the kept mean ({@code kiln_variance_backward}).
   */
  static Tensor variance(Tensor x, int[] runs, int[] outShape, int divisor) {
    Ops.requireFloat("var", x);
    Tensor mean = empty(outShape);
    Tensor out = named("var", () -> {
      Tensor o = empty(outShape);
      ElementwiseKernels.varianceOver(o.writeCuda(), mean.writeCuda(), x.readCuda(), runs, divisor);
      return o;
    });
    if (!Ops.track(x)) {
      return out;
    }
    return Tensor.ofNode(out, new Node(x) {
      @Override public String name() {
        return "var";
      }

      @Override protected Tensor[] backward(Tensor g) {
        return named("var backward", () -> {
          Tensor dx = empty(x.shape());
          Tensor gd = onGpu(g);
          ElementwiseKernels.varianceBackward(dx.writeCuda(), gd.readCuda(), x.readCuda(), mean.readCuda(), runs, 2f / divisor);
          CudaLayerOps.keepAlive(gd, mean);
          return new Tensor[] {dx};
        });
      }
    });
  }

  /**
   * Ops' {@code expandAlong}: {@code m} repeated {@code size} times along the middle of
   * {@code [outer, size, inner]}; the gradient summed back.
   */
  static Tensor expandAlong(Tensor m, int outer, int size, int inner, int[] outShape) {
    return reshaping("expand", m, outShape,
        (out, in) -> ElementwiseKernels.spreadAlong(out, in, outer, size, inner, 1f),
        (dx, g) -> ElementwiseKernels.sumAlong(dx, g, outer, size, inner, 1f));
  }

  /**
   * Ops' {@code sqrtOfVariance}: {@code y = sqrt(v)}, recorded as {@code std}, whose gradient is
   * {@code g / (2 y)} where {@code y > 0} and 0 where {@code y} is 0 ({@code kiln_std_backward}, the
   * CPU's {@code MathKernels.stdBackward}).
   */
  static Tensor sqrtOfVariance(Tensor v) {
    return unary("std", v, Reads.OUTPUT, ElementwiseKernels::sqrtForward, (dx, g, in, y, n) -> ElementwiseKernels.stdBackward(dx, g, y, n));
  }

  // ------------------------------------------------------------------ slicing and joining

  /**
   * Ops' {@code block} (narrow, slice, select): {@code rows} rows of {@code width} floats, one
   * from each slab of {@code pitch} floats of {@code x}, {@code skip} floats into it, as one 2-d
   * copy; the backward zeroes the input's gradient and copies the rows back into it.
   */
  static Tensor block(String name, Tensor x, int rows, int pitch, int skip, int width, int[] outShape) {
    long skipBytes = (long) skip * Float.BYTES;
    int n = x.numel();
    return reshaping(name, x, outShape,
        (out, in) -> Cuda.get().copy2d(in + skipBytes, pitch, out, width, width, rows),
        (dx, g) -> {
          Cuda.get().zero(dx, n);
          Cuda.get().copy2d(g, width, dx + skipBytes, pitch, width, rows);
        });
  }

  /**
   * The gradient of {@link Ops#unbind}'s, {@code split}'s or {@code chunk}'s pieces: piece {@code t}'s
   * {@code rows} rows of {@code widths[t]} floats copied to column {@code offsets[t]} of rows of
   * {@code pitch} floats, one 2-d copy per piece; zeros first only where a piece has no gradient.
   */
  static Tensor placePieces(int[] shape, Tensor[] grads, int rows, int pitch, int[] offsets, int[] widths) {
    return named("split backward", () -> {
      Tensor dx = empty(shape);
      long base = dx.writeCuda();
      if (java.util.Arrays.asList(grads).contains(null)) {
        Cuda.get().zero(base, dx.numel());
      }
      for (int t = 0; t < grads.length; t++) {
        if (grads[t] != null && widths[t] > 0 && rows > 0) {
          Tensor g = onGpu(grads[t]);
          Cuda.get().copy2d(g.readCuda(), widths[t], base + (long) offsets[t] * Float.BYTES, pitch, widths[t], rows);
          CudaLayerOps.keepAlive(g);
        }
      }
      return dx;
    });
  }

  /**
   * {@link Ops#cat}, the checks made: input {@code i}'s {@code rows} rows of {@code sizes[i] * inner}
   * floats go to column {@code starts[i] * inner} of the result's rows of {@code pitch} floats, one
   * 2-d copy per input; each input's gradient is the same block copied back out.
   */
  static Tensor cat(Tensor[] xs, int rows, int pitch, int[] starts, int[] sizes, int inner, int[] outShape) {
    Tensor out = named("cat", () -> {
      Tensor o = empty(outShape);
      long dst = o.writeCuda();
      for (int i = 0; i < xs.length; i++) {
        int width = sizes[i] * inner;
        if (width > 0) { // an empty part (PyTorch's legacy [0]) has no device memory to read
          Cuda.get().copy2d(xs[i].readCuda(), width, dst + (long) starts[i] * inner * Float.BYTES, pitch, width, rows);
        }
      }
      return o;
    });
    if (!Ops.track(xs)) {
      return out;
    }
    return Tensor.ofNode(out, new Node(xs) {
      @Override protected boolean savesTensors() {
        return false;
      }

      @Override public String name() {
        return "cat";
      }

      @Override protected Tensor[] backward(Tensor g) {
        return named("cat backward", () -> {
          Tensor gd = onGpu(g);
          Tensor[] grads = new Tensor[xs.length];
          for (int i = 0; i < xs.length; i++) {
            grads[i] = needsGrad(i) ? empty(xs[i].shape()) : null; // all allocated before an address is taken
          }
          for (int i = 0; i < xs.length; i++) {
            if (grads[i] != null && sizes[i] > 0) {
              int width = sizes[i] * inner;
              Cuda.get().copy2d(gd.readCuda() + (long) starts[i] * inner * Float.BYTES, pitch, grads[i].writeCuda(), width, width, rows);
            }
          }
          return grads;
        });
      }
    });
  }

  // ------------------------------------------------------------------ embeddings

  /**
   * {@link Ops#embedding} on the device, the arguments checked and the ids read on the host by Ops:
   * one {@code kiln_embedding_forward}; the table's gradient added into its leaf's gradient (a
   * fresh one zeroed first) by {@code kiln_embedding_backward}, in the CPU's order (see {@link
   * EmbeddingKernels}). Only the ids are saved; the table is not read by the backward.
   */
  static Tensor embedding(Tensor indices, Tensor weight, int[] ids, int paddingIdx) {
    int num = weight.size(0), dim = weight.size(1);
    int[] shape = java.util.Arrays.copyOf(indices.shape(), indices.dim() + 1);
    shape[indices.dim()] = dim;
    Tensor out = named("embedding", () -> {
      Tensor o = empty(shape);
      EmbeddingKernels.forward(o.writeCuda(), weight.readCuda(), indices.readCuda(), ids.length, dim);
      return o;
    });
    CudaLayerOps.keepAlive(indices, weight);
    if (!Ops.track(weight)) {
      return out;
    }
    return Tensor.ofNode(out, new Node(weight) {
      @Override protected boolean savesInputs() { // the ids, not the table
        return false;
      }

      @Override public String name() {
        return "embedding";
      }

      @Override protected Tensor[] backward(Tensor g) {
        return named("embedding backward", () -> {
          Tensor gd = onGpu(g);
          GradSink dw = tableGradient(weight, num, dim);
          EmbeddingKernels.backward(dw.address(), 0L, gd.readCuda(), ids, null, paddingIdx, EmbeddingKernels.LOOKUP, dim, 0L, 0L, 0L, 0L);
          CudaLayerOps.keepAlive(gd);
          return new Tensor[] {dw.returned()};
        });
      }
    });
  }

  /** Where a table's gradient goes: its leaf's gradient, added to, or a fresh one, zeroed here. */
  private static GradSink tableGradient(Tensor weight, int num, int dim) {
    GradSink sink = GradSink.of(weight);
    if (!sink.accumulate()) {
      Cuda.get().zero(sink.address(), (long) num * dim);
    }
    return sink;
  }

  /**
   * {@link Ops#embeddingBag} on the device, everything checked by Ops ({@code ids} in range, {@code
   * starts} the bags' bounds, {@code reduce} 0 sum, 1 mean, 2 max): one {@code
   * kiln_embedding_bag_forward} (max mode's argmax kept on the device), the backward one {@code
   * kiln_embedding_backward} into the table's gradient and, for per-sample weights, one {@code
   * kiln_embedding_bag_weights_backward}.
   */
  static Tensor embeddingBag(Tensor indices, Tensor weight, Tensor perSampleWeights, int[] ids, int[] starts, int reduce,
      int paddingIdx) {
    int bags = starts.length - 1, num = weight.size(0), dim = weight.size(1);
    boolean track = Ops.track(weight, perSampleWeights);
    CudaBuffer argmax = reduce == EmbeddingKernels.MAX ? named("embedding_bag", () -> Cuda.get().allocate((long) bags * dim)) : null;
    Tensor out = named("embedding_bag", () -> {
      Tensor o = empty(bags, dim);
      EmbeddingKernels.bagForward(o.writeCuda(), argmax == null ? 0L : argmax.address(), weight.readCuda(), indices.readCuda(), starts,
          CudaLayerOps.read(perSampleWeights), paddingIdx, reduce, dim);
      return o;
    });
    CudaLayerOps.keepAlive(indices, weight, perSampleWeights);
    if (!track) {
      if (argmax != null) {
        argmax.release(); // safe at once: later users of the block are queued after the kernel
      }
      return out;
    }
    Tensor[] inputs = perSampleWeights == null ? new Tensor[] {weight} : new Tensor[] {weight, perSampleWeights};
    return Tensor.ofNode(out, new Node(inputs) {
      @Override public String name() {
        return "embedding_bag";
      }

      @Override protected Tensor[] backward(Tensor g) {
        return named("embedding_bag backward", () -> {
          Tensor gd = onGpu(g);
          GradSink dw = needsGrad(0) ? tableGradient(weight, num, dim) : null;
          Tensor ds = inputs.length > 1 && needsGrad(1) ? empty(indices.shape()) : null;
          EmbeddingKernels.backward(GradSink.address(dw), CudaLayerOps.write(ds), gd.readCuda(), ids, starts, paddingIdx, reduce, dim,
              weight.readCuda(), indices.readCuda(), CudaLayerOps.read(perSampleWeights), argmax == null ? 0L : argmax.address());
          CudaLayerOps.keepAlive(gd, weight, indices, perSampleWeights);
          java.lang.ref.Reference.reachabilityFence(argmax);
          Tensor dWeight = dw == null ? null : dw.returned();
          return inputs.length == 1 ? new Tensor[] {dWeight} : new Tensor[] {dWeight, ds};
        });
      }
    });
  }

  // ------------------------------------------------------------------ losses

  /** Forward state of one cross-entropy call on the GPU, kept for its backward (Ops' {@code CrossEntropy}). */
  private record CrossEntropy(int rows, int classes, Tensor losses, Tensor probs, Tensor target) {
    static CrossEntropy forward(Tensor logits, Tensor target) {
      LossOps.checkCrossEntropy(logits, target);
      int rows = logits.size(0), classes = logits.size(1);
      // The kernel indexes the logits by the targets unchecked, so they are checked here, with
      // the CPU's message; labels usually come from the host, where they are current.
      CpuKernels.requireClassIndices(target.readBuffer(), target.offset(), rows, classes);
      return named("cross_entropy", () -> {
        Tensor losses = empty(rows);
        Tensor probs = empty(rows, classes);
        ElementwiseKernels.crossEntropyForward(
            losses.writeCuda(), probs.writeCuda(), logits.readCuda(), target.readCuda(), rows, classes);
        return new CrossEntropy(rows, classes, losses, probs, target);
      });
    }

    /** {@code (softmax - onehot) * g[r * stride] * factor}: per-sample ({@code stride 1}) or one gradient for all rows. */
    Tensor backward(Tensor g, int stride, float factor) {
      return named("cross_entropy backward", () -> {
        Tensor d = empty(rows, classes);
        Tensor gd = onGpu(g);
        ElementwiseKernels.crossEntropyBackward(
            d.writeCuda(), probs.readCuda(), target.readCuda(), gd.readCuda(), stride, factor, rows, classes);
        CudaLayerOps.keepAlive(gd); // its block stays out of the allocator until the kernel is queued
        return d;
      });
    }
  }

  /** {@link Ops#crossEntropy}: the per-sample losses averaged or summed on the GPU, as one node. */
  static Tensor crossEntropy(Tensor logits, Tensor target, boolean mean) {
    CrossEntropy ce = CrossEntropy.forward(logits, target);
    float factor = mean ? 1f / ce.rows() : 1f;
    Tensor out = named("cross_entropy", () -> {
      Tensor o = empty();
      ElementwiseKernels.sum(o.writeCuda(), ce.losses().readCuda(), ce.rows(), factor);
      return o;
    });
    if (!Ops.track(logits)) {
      return out;
    }
    return Tensor.ofNode(out, new Node(logits) {
      @Override public String name() {
        return "cross_entropy";
      }

      @Override protected Tensor[] backward(Tensor g) {
        return new Tensor[] {ce.backward(g, 0, factor)};
      }
    });
  }

  /** {@link Ops#crossEntropyPerSample}: losses of shape {@code [N]}. */
  static Tensor crossEntropyPerSample(Tensor logits, Tensor target) {
    CrossEntropy ce = CrossEntropy.forward(logits, target);
    if (!Ops.track(logits)) {
      return ce.losses();
    }
    return Tensor.ofNode(ce.losses(), new Node(logits) {
      @Override public String name() {
        return "cross_entropy";
      }

      @Override protected Tensor[] backward(Tensor g) {
        return new Tensor[] {ce.backward(g, 1, 1f)};
      }
    });
  }

  /** A per-element loss kernel's forward, by device address. */
  @FunctionalInterface
  private interface LossForward {
    void run(long out, long x, long target, long n);
  }

  /** A per-element loss kernel's input gradient; the target's is its negative. */
  @FunctionalInterface
  private interface LossBackward {
    void run(long dx, long g, long x, long target, long n);
  }

  /** {@link Ops#l1LossPerElement}: {@code |input - target|}. */
  static Tensor l1LossPerElement(Tensor input, Tensor target) {
    return pointwiseLoss("l1_loss", input, target, ElementwiseKernels::l1Forward, ElementwiseKernels::l1Backward);
  }

  /** {@link Ops#mseLossPerElement}: {@code (input - target)^2}. */
  static Tensor mseLossPerElement(Tensor input, Tensor target) {
    return pointwiseLoss("mse_loss", input, target, ElementwiseKernels::mseForward, ElementwiseKernels::mseBackward);
  }

  /** Ops' {@code pointwiseLoss}: a per-element loss of two same-shaped tensors, with gradients to both. */
  private static Tensor pointwiseLoss(String name, Tensor input, Tensor target, LossForward forward, LossBackward backward) {
    LossOps.checkPointwiseLoss(name, input, target);
    int n = input.numel();
    Tensor out = named(name, () -> {
      Tensor o = empty(input.shape());
      forward.run(o.writeCuda(), input.readCuda(), target.readCuda(), n);
      return o;
    });
    if (!Ops.track(input, target)) {
      return out;
    }
    return Tensor.ofNode(out, new Node(input, target) {
      @Override public String name() {
        return name;
      }

      @Override protected Tensor[] backward(Tensor g) {
        Tensor dInput = named(name + " backward", () -> {
          Tensor d = empty(input.shape());
          Tensor gd = onGpu(g);
          backward.run(d.writeCuda(), gd.readCuda(), input.readCuda(), target.readCuda(), n);
          CudaLayerOps.keepAlive(gd); // its block stays out of the allocator until the kernel is queued
          return d;
        });
        return new Tensor[] {needsGrad(0) ? dInput : null, needsGrad(1) ? scale(dInput, -1f) : null};
      }
    });
  }

  // ------------------------------------------------------------------ pooling

  /** {@link Ops#maxPool2d}: the argmax of each window kept on the device (ints) for the backward. */
  static Tensor maxPool2d(Tensor x, int kernelH, int kernelW, int strideH, int strideW, int padH, int padW, boolean ceilMode) {
    Pool2dShape s = LayerOps.checkMaxPool2d(x, kernelH, kernelW, strideH, strideW, padH, padW, ceilMode);
    int planes = s.batch() * s.channels();
    int planeIn = s.height() * s.width(), planeOut = s.outHeight() * s.outWidth();
    int[] outShape = {s.batch(), s.channels(), s.outHeight(), s.outWidth()};
    boolean track = Ops.track(x);
    CudaBuffer argmax = named("max_pool2d", () -> Cuda.get().allocate((long) planes * planeOut));
    Tensor out = named("max_pool2d", () -> {
      Tensor o = empty(outShape);
      ElementwiseKernels.maxPool2dForward(o.writeCuda(), argmax.address(), x.readCuda(), planes, s.height(), s.width(),
          s.outHeight(), s.outWidth(), s.kernelH(), s.kernelW(), s.strideH(), s.strideW(), s.padH(), s.padW());
      return o;
    });
    if (!track) {
      argmax.release(); // safe at once: later users of the block are queued after the kernel
      return out;
    }
    return Tensor.ofNode(out, new Node(x) {
      @Override public String name() {
        return "max_pool2d";
      }

      @Override protected Tensor[] backward(Tensor g) {
        return named("max_pool2d backward", () -> {
          Tensor dx = Tensor.zeros(cuda(), x.shape());
          Tensor gd = onGpu(g);
          ElementwiseKernels.maxPool2dBackward(dx.writeCuda(), gd.readCuda(), argmax.address(), planes, planeIn, planeOut);
          CudaLayerOps.keepAlive(gd); // its block stays out of the allocator until the kernel is queued
          return new Tensor[] {dx};
        });
      }
    });
  }

  /** {@link Ops#avgPool2d} and {@link Ops#adaptiveAvgPool2d} on the device; nothing saved for the backward but the geometry. */
  static Tensor avgPool2d(String name, Tensor x, AvgPool2dShape s) {
    int planes = x.size(0) * x.size(1);
    int[] outShape = {x.size(0), x.size(1), s.outHeight(), s.outWidth()};
    boolean track = Ops.track(x);
    boolean none = s.outHeight() == 0 || s.outWidth() == 0 || planes == 0; // an empty result: no kernel to launch
    Tensor out = named(name, () -> {
      Tensor o = empty(outShape);
      if (!none) {
        ElementwiseKernels.avgPool2dForward(o.writeCuda(), x.readCuda(), planes, s);
      }
      return o;
    });
    if (!track) {
      return out;
    }
    return Tensor.ofNode(out, new Node(x) {
      @Override protected boolean savesTensors() {
        return false;
      }

      @Override public String name() {
        return name;
      }

      @Override protected Tensor[] backward(Tensor g) {
        return named(name + " backward", () -> {
          if (none) {
            return new Tensor[] {Tensor.zeros(cuda(), x.shape())};
          }
          Tensor dx = empty(x.shape());
          Tensor gd = onGpu(g);
          ElementwiseKernels.avgPool2dBackward(dx.writeCuda(), gd.readCuda(), planes, s);
          CudaLayerOps.keepAlive(gd); // its block stays out of the allocator until the kernel is queued
          return new Tensor[] {dx};
        });
      }
    });
  }
}
