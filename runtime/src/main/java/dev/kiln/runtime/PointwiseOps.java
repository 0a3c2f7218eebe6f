package dev.kiln.runtime;

import static dev.kiln.runtime.Ops.requireFloat;
import static dev.kiln.runtime.Ops.track;

import dev.kiln.runtime.cpu.PointwiseKernels;
import dev.kiln.runtime.cpu.PointwiseKernels.Binary;
import dev.kiln.runtime.cpu.PointwiseKernels.Unary;

/**
 * The bodies of {@link Ops}' table-driven element-wise functions ({@link PointwiseKernels}: floor,
 * ceil, round, trunc, sign, reciprocal, rsqrt, log1p, expm1, square; maximum, minimum, atan2 and the
 * logical ops), lerp, and the masks' all/any. One path for every entry: the kernel of the tensor's
 * device ({@code cpu.PointwiseKernels} or {@code cuda.PointwiseKernels}, built from the same table),
 * one node whose backward runs the table's gradient there. Two-input functions broadcast by
 * expanding an operand on the tape first (its expansion sums the gradient back), as {@code where} does.
 */
final class PointwiseOps {
  private PointwiseOps() {}

  /** {@code f(x)} element-wise, with f's gradient (zeros for the step functions, as PyTorch's). */
  static Tensor unary(Unary f, Tensor x) {
    String name = f.opName;
    requireFloat(name, x);
    int n = x.numel();
    boolean cuda = x.device().isCuda();
    Tensor out = Tensor.empty(x.device(), x.shape());
    if (cuda) {
      dev.kiln.runtime.cuda.PointwiseKernels.forward(f, out.writeCuda(), x.readCuda(), n);
      CudaLayerOps.keepAlive(x);
    } else {
      PointwiseKernels.forward(f, out.buffer(), 0, x.readBuffer(), x.offset(), n);
    }
    if (!track(x)) {
      return out;
    }
    boolean reads = f.backward != null;
    return Tensor.ofNode(out, new Node(x) {
      @Override protected boolean savesTensors() {
        return reads;
      }

      @Override protected boolean savesOutput() {
        return reads;
      }

      @Override public String name() {
        return name;
      }

      @Override protected Tensor[] backward(Tensor g) {
        return new Tensor[] {IndexOps.gradientOf(x, g, (dx, gd) -> {
          if (cuda) {
            dev.kiln.runtime.cuda.PointwiseKernels.backward(f, dx.writeCuda(), gd.readCuda(), x.readCuda(), out.readCuda(), n);
          } else {
            PointwiseKernels.backward(f, dx.buffer(), 0, gd.readBuffer(), gd.offset(), x.readBuffer(), x.offset(), out.readBuffer(),
                out.offset(), n);
          }
        })};
      }
    });
  }

  /**
   * {@code f(a, b)} element-wise, the shapes broadcast as PyTorch's; a differentiable f's gradient
   * to both operands, a logical one's 0/1 mask without (its operands may be labels).
   *
   * @throws IllegalArgumentException naming f and both shapes when they do not broadcast
   */
  static Tensor binary(Binary f, Tensor a, Tensor b) {
    String name = f.opName;
    Devices.onCuda(name, a, b); // one device, or an error naming both
    boolean grad = f.differentiable();
    if (grad) {
      requireFloat(name, a);
      requireFloat(name, b);
    }
    int[] shape = Shapes.broadcast(name, a.shape(), b.shape());
    if (!grad) {
      try (var off = Kiln.noGrad()) {
        return binarySameShape(f, ArithmeticOps.expand(asMask(a), shape, false), ArithmeticOps.expand(asMask(b), shape, false), shape);
      }
    }
    return binarySameShape(f, ArithmeticOps.expand(a, shape, false), ArithmeticOps.expand(b, shape, false), shape);
  }

  /** A float copy of labels (a logical op's operand), or {@code t} itself when it holds floats. */
  private static Tensor asMask(Tensor t) {
    return t.dtype() == DType.FLOAT32 ? t : Tensor.wrap(t.toFloatArray(), t.shape()).to(t.device());
  }

  private static Tensor binarySameShape(Binary f, Tensor a, Tensor b, int[] shape) {
    int n = Shapes.numel(shape);
    boolean cuda = a.device().isCuda();
    Tensor out = Tensor.empty(a.device(), shape);
    if (cuda) {
      dev.kiln.runtime.cuda.PointwiseKernels.forward(f, out.writeCuda(), a.readCuda(), b.readCuda(), n);
      CudaLayerOps.keepAlive(a, b);
    } else {
      PointwiseKernels.forward(f, out.buffer(), 0, a.readBuffer(), a.offset(), b.readBuffer(), b.offset(), n);
    }
    if (!f.differentiable() || !track(a, b)) {
      return out;
    }
    return Tensor.ofNode(out, new Node(a, b) {
      @Override public String name() {
        return f.opName;
      }

      @Override protected Tensor[] backward(Tensor g) {
        Tensor gd = g.to(a.device());
        Tensor da = needsGrad(0) ? Tensor.empty(a.device(), shape) : null;
        Tensor db = needsGrad(1) ? Tensor.empty(a.device(), shape) : null;
        if (cuda) {
          if (da != null) {
            dev.kiln.runtime.cuda.PointwiseKernels.backward(f, da.writeCuda(), gd.readCuda(), a.readCuda(), b.readCuda(), false, n);
          }
          if (db != null) {
            dev.kiln.runtime.cuda.PointwiseKernels.backward(f, db.writeCuda(), gd.readCuda(), a.readCuda(), b.readCuda(), true, n);
          }
          CudaLayerOps.keepAlive(gd);
        } else {
          PointwiseKernels.backward(f, da == null ? null : da.buffer(), db == null ? null : db.buffer(), gd.readBuffer(), gd.offset(),
              a.readBuffer(), a.offset(), b.readBuffer(), b.offset(), n);
        }
        return new Tensor[] {da, db};
      }
    });
  }

  /**
   * {@code start + weight (end - start)}, PyTorch's {@code torch.lerp} with a scalar weight and its
   * two formulas: {@code end - (end - start)(1 - weight)} for a weight of 0.5 or more in size, so
   * that a weight of 1 gives {@code end} exactly. Composed of tape ops: gradients to both.
   */
  static Tensor lerp(Tensor start, Tensor end, float weight) {
    Devices.onCuda("lerp", start, end);
    requireFloat("lerp", start);
    requireFloat("lerp", end);
    Shapes.broadcast("lerp", start.shape(), end.shape());
    Tensor diff = Ops.sub(end, start);
    return Math.abs(weight) < 0.5f ? Ops.add(start, Ops.scale(diff, weight)) : Ops.sub(end, Ops.scale(diff, 1f - weight));
  }

  /** {@link #lerp} with a weight per element (broadcast with both ends): gradients to the ends and the weight. */
  static Tensor lerp(Tensor start, Tensor end, Tensor weight) {
    Devices.onCuda("lerp", start, end, weight);
    requireFloat("lerp", start);
    requireFloat("lerp", end);
    requireFloat("lerp", weight);
    Shapes.broadcast("lerp", Shapes.broadcast("lerp", start.shape(), end.shape()), weight.shape());
    Tensor diff = Ops.sub(end, start);
    Tensor small;
    try (var off = Kiln.noGrad()) {
      small = Ops.compare("lerp", Ops.abs(weight), Tensor.scalar(0.5f).to(weight.device()), (u, v) -> u < v);
    }
    Tensor low = Ops.add(start, Ops.mul(weight, diff));
    Tensor high = Ops.sub(end, Ops.mul(diff, Ops.shift(Ops.neg(weight), 1f)));
    return Ops.where(small, low, high);
  }

  /** PyTorch's {@code logical_not}: 1 where x is 0, else 0 (NaN counts as true), a mask without gradient. */
  static Tensor logicalNot(Tensor x) {
    return Ops.compare("logical_not", x, Tensor.scalar(0f).to(x.device()), (u, v) -> u == v);
  }

  /**
   * PyTorch's {@code all()} ({@code any} false) or {@code any()} of x's values (nonzero counts as
   * true, NaN included) as a 0/1 rank-0 tensor; an empty x is all true and any false.
   */
  static Tensor allOrAny(Tensor x, boolean any) {
    String name = any ? "any" : "all";
    if (x.numel() == 0) {
      return Tensor.scalar(any ? 0f : 1f).to(x.device());
    }
    try (var off = Kiln.noGrad()) {
      return Ops.extremum(Ops.compare(name, x, Tensor.scalar(0f).to(x.device()), (u, v) -> u != v), any);
    }
  }

  /** {@link #allOrAny} along {@code dim}, which is removed unless {@code keepDim}. */
  static Tensor allOrAny(Tensor x, int dim, boolean keepDim, boolean any) {
    String name = any ? "any" : "all";
    if (x.dim() == 0) {
      IndexOps.alongOrScalar(name, x, dim); // checks dim
      return allOrAny(x, any);
    }
    int d;
    try {
      d = Shapes.normalizeDim(dim, x.dim());
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException(name + " of shape " + Shapes.toString(x.shape()) + ": " + e.getMessage(), e);
    }
    int[] outShape = Ops.reducedShape(x.shape(), d, keepDim);
    if (x.numel() == 0) {
      return Tensor.full(any ? 0f : 1f, outShape).to(x.device());
    }
    try (var off = Kiln.noGrad()) {
      Tensor mask = Ops.compare(name, x, Tensor.scalar(0f).to(x.device()), (u, v) -> u != v);
      return Ops.extremaAlong(mask, d, keepDim, any).values();
    }
  }
}
