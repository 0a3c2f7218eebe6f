package dev.kiln.runtime;

import dev.kiln.runtime.cpu.IdKernels;
import dev.kiln.runtime.cpu.IdKernels.Op;
import dev.kiln.runtime.cuda.Cuda;
import java.util.ArrayList;
import java.util.List;
import java.util.function.BinaryOperator;
import java.util.function.Function;
import java.util.function.UnaryOperator;

/**
 * Arithmetic of ids ({@link DType#INT32} tensors: labels, argmax's indices), PyTorch's integer tensor rules:
 * {@code ids + 1}, {@code ids - other}, {@code ids * stride}, {@code ids // 2}, {@code ids % vocab}, {@code -ids},
 * {@code ids.abs()}, {@code ids.clamp(0, V - 1)} give ids ({@link IdKernels}: computed in 64 bits, a result past 2^24
 * or a division by zero an error naming the op); an op that mixes ids with a float tensor or a float constant, and a
 * true division, computes on a float copy of the ids (PyTorch's type promotion), so only the float side takes part in
 * the tape. Ids never require a gradient, so nothing here records a node. Shape ops that only move values (where, cat,
 * max, min) run their float op on the ids' values and keep the type. On CUDA the ids never leave the device: the
 * arithmetic is {@code cuda.IdKernels}' (the same 64-bit values), whose one-value flag, read back once per op, says
 * whether a result left the range or a divisor was 0; then the op is redone on the host for the CPU's message. The
 * float copies are device copies, and the float ops' results over ids are typed as ids in place (whole already).
 */
final class IntOps {
  private IntOps() {}

  static boolean isIds(Tensor t) {
    return t.dtype() == DType.INT32;
  }

  /** A FLOAT32 copy of ids on their device (PyTorch's {@code ids.float()}), or a float tensor itself. */
  static Tensor toFloat(Tensor t) {
    if (!isIds(t)) {
      return t;
    }
    if (t.device().isCuda()) { // the same floats, copied on the device
      Tensor copy = Tensor.empty(t.device(), t.shape());
      Cuda.get().copy(t.readCuda(), copy.writeCuda(), t.numel());
      CudaLayerOps.keepAlive(t);
      return copy;
    }
    return Tensor.wrap(t.toFloatArray(), t.shape());
  }

  /**
   * Whole float values without gradient as ids (a copy, checked whole by {@link Tensor#wrap(float[], DType, int...)}),
   * on their device; on CUDA the values themselves typed as ids (callers pass fresh results of float ops that only
   * moved ids, whole and in range already), so nothing is read on the host.
   */
  static Tensor asIds(Tensor values) {
    if (values.device().isCuda()) {
      return values.typedAsIds();
    }
    return Tensor.wrap(values.toFloatArray(), DType.INT32, values.shape());
  }

  /**
   * {@code a op b} where either is ids: ids of the broadcast shape when both are, else {@code floatOp} of float copies
   * (null for the ops that take ids only, {@code floor_divide} and {@code remainder}).
   */
  static Tensor binary(Op op, Tensor a, Tensor b, BinaryOperator<Tensor> floatOp) {
    Devices.onCuda(op.torchName(), a, b);
    if (!isIds(a) || !isIds(b)) {
      if (floatOp == null) {
        Tensor f = isIds(a) ? b : a;
        throw new IllegalArgumentException(op.torchName() + ": Kiln takes ids (int32 tensors) only, got a float tensor of shape "
            + Shapes.toString(f.shape()));
      }
      return floatOp.apply(toFloat(a), toFloat(b));
    }
    int[] shape = Shapes.broadcast(op.torchName(), a.shape(), b.shape());
    if (a.device().isCuda() && shape.length <= dev.kiln.runtime.cuda.IdKernels.MAX_RANK) {
      Tensor out = Tensor.emptyIndices(a.device(), shape);
      if (!dev.kiln.runtime.cuda.IdKernels.binary(op, out.writeCuda(), a.readCuda(), b.readCuda(), shape,
          broadcastStrides(shape, a.shape()), broadcastStrides(shape, b.shape()))) {
        onHost(op, a, b, shape); // throws the CPU's error: the value and where it is
        throw new IllegalStateException(op.torchName() + ": the device flagged a value the host computes without error");
      }
      CudaLayerOps.keepAlive(a, b);
      return out;
    }
    return Tensor.wrap(onHost(op, a, b, shape), DType.INT32, shape).to(a.device());
  }

  /** {@code a op b} of ids broadcast to {@code shape}, computed on the host ({@link IdKernels#broadcast}: its errors). */
  private static float[] onHost(Op op, Tensor a, Tensor b, int[] shape) {
    float[] out = new float[Shapes.numel(shape)];
    IdKernels.broadcast(op, out, a.toFloatArray(), 0, ArithmeticOps.broadcastIndex(shape, a.shape()), b.toFloatArray(), 0,
        ArithmeticOps.broadcastIndex(shape, b.shape()));
    return out;
  }

  /** The strides of a row-major {@code own} shape over the dimensions of {@code shape} it broadcasts to, 0 where it repeats. */
  private static int[] broadcastStrides(int[] shape, int[] own) {
    int[] strides = new int[shape.length];
    int lead = shape.length - own.length, stride = 1;
    for (int d = own.length - 1; d >= 0; d--) {
      strides[lead + d] = own[d] == 1 ? 0 : stride;
      stride *= own[d];
    }
    return strides;
  }

  /** {@code ids op c}, then {@code min(., c2)} unless {@code c2} is {@link Long#MAX_VALUE} ({@link IdKernels#withConstant}). */
  static Tensor withConstant(Op op, Tensor ids, long c, long c2) {
    IdKernels.requireDivisor(op, c);
    float[] out = new float[ids.numel()];
    if (ids.device().isCuda()) {
      Tensor result = Tensor.emptyIndices(ids.device(), ids.shape());
      if (!dev.kiln.runtime.cuda.IdKernels.constant(op, c, c2, result.writeCuda(), ids.readCuda(), out.length)) {
        IdKernels.withConstant(op, c, c2, out, 0, ids.toFloatArray(), 0, out.length); // throws the CPU's error
        throw new IllegalStateException(op.torchName() + ": the device flagged a value the host computes without error");
      }
      CudaLayerOps.keepAlive(ids);
      return result;
    }
    IdKernels.withConstant(op, c, c2, out, 0, ids.toFloatArray(), 0, out.length);
    return Tensor.wrap(out, DType.INT32, ids.shape());
  }

  /** {@code ids + c} for ids, {@code x + (float) c} for a float tensor (PyTorch's {@code x + 1}). */
  static Tensor add(Tensor x, long c) {
    return isIds(x) ? withConstant(Op.ADD, x, c, Long.MAX_VALUE) : Ops.shift(x, (float) c);
  }

  /** {@code ids * c} for ids, {@code x * (float) c} for a float tensor. */
  static Tensor mul(Tensor x, long c) {
    return isIds(x) ? withConstant(Op.MUL, x, c, Long.MAX_VALUE) : Ops.scale(x, (float) c);
  }

  /** {@code clamp(min, max)} of ids (bounds past the ids' range limit nothing), or of a float tensor at the bounds as floats. */
  static Tensor clamp(Tensor x, long min, long max) {
    if (!isIds(x)) {
      return Ops.clamp(x, min == Long.MIN_VALUE ? Float.NEGATIVE_INFINITY : (float) min,
          max == Long.MAX_VALUE ? Float.POSITIVE_INFINITY : (float) max);
    }
    return withConstant(Op.MAX, x, min, max);
  }

  /** {@code op} of a float tensor, or of a float copy of ids (a float constant, a true division: PyTorch promotes). */
  static Tensor promoted(Tensor x, UnaryOperator<Tensor> floatOp) {
    return floatOp.apply(toFloat(x));
  }

  /** {@code where(condition, a, b)} with ids as a or b: ids when both are, else of float copies. */
  static Tensor where(Tensor condition, Tensor a, Tensor b) {
    Tensor values = Ops.where(condition, toFloat(a), toFloat(b));
    return isIds(a) && isIds(b) ? asIds(values) : values;
  }

  /** A cat or stack with ids among the tensors: ids when all are, else of float copies (PyTorch promotes). */
  static Tensor join(List<Tensor> tensors, Function<List<Tensor>, Tensor> join) {
    List<Tensor> floats = new ArrayList<>(tensors.size());
    boolean allIds = true;
    for (Tensor t : tensors) {
      floats.add(t == null ? null : toFloat(t));
      allIds &= t != null && isIds(t);
    }
    Tensor values = join.apply(floats);
    return allIds ? asIds(values) : values;
  }

  /**
   * {@code ids.sum(dims[, keepDim])} over the dimensions {@code reduced} marks, as PyTorch sums an int64 tensor: ids of
   * {@code outShape}, each sum computed in 64 bits ({@link IdKernels#sumOver}: a sum past 2^24 an error naming it). On
   * CUDA the ids are summed on the host and the sums copied back (a reduction of ids is rare; the float kernels would
   * round a sum past 2^24 before it could be refused).
   */
  static Tensor sum(Tensor ids, boolean[] reduced, int[] outShape) {
    float[] out = new float[Shapes.numel(outShape)];
    IdKernels.sumOver(out, ids.toFloatArray(), 0, ids.shape(), reduced);
    return Tensor.wrap(out, DType.INT32, outShape).to(ids.device());
  }

  /** {@code sum} of every dimension of ids, or those of {@code dims} (none: every one), as {@link Ops#sum(Tensor, int[], boolean)} checks them. */
  static Tensor sum(Tensor ids, int[] dims, boolean keepDim) {
    boolean[] reduced = ReductionOps.Over.of("sum", ids, dims).reduced();
    return sum(ids, reduced, Shapes.reducedShape(ids.shape(), reduced, keepDim));
  }

  /** {@code sum} of ids along one dimension, as {@link Ops#sum(Tensor, int, boolean)} checks it. */
  static Tensor sum(Tensor ids, int dim, boolean keepDim) {
    Ops.Along.of("sum", ids, dim); // (eager's message for a dimension out of range)
    boolean[] reduced = new boolean[ids.dim()];
    reduced[Shapes.normalizeDim(dim, ids.dim())] = true;
    return sum(ids, reduced, Shapes.reducedShape(ids.shape(), reduced, keepDim));
  }

  /**
   * {@code F.pad(ids, pad, value)}: ids padded with {@code value} cast to an id as PyTorch casts it to the int64 tensor's
   * type (toward zero: {@code -1.7} pads with {@code -1}), the float pad's checks and moves.
   *
   * @throws IllegalArgumentException for a value that is no number or past 2^24 in magnitude once cast
   */
  static Tensor pad(Tensor ids, int[] pad, float value) {
    float id = idOf("pad", "pads", value, ids);
    return keepingIds(ids, f -> IndexOps.pad(f, pad, id));
  }

  /** {@code ids.masked_fill(mask, value)}: ids, the value cast to an id as {@link #pad}'s (PyTorch keeps the int64 type). */
  static Tensor maskedFill(Tensor ids, Tensor mask, float value) {
    float id = idOf("masked_fill", "fills", value, ids);
    return keepingIds(ids, f -> ShapeOps.maskedFill(f, mask, id));
  }

  /**
   * {@code value} cast to an id toward zero, as PyTorch casts a scalar to an int64 tensor's type ({@code -1.7} is {@code -1}).
   *
   * @throws IllegalArgumentException naming {@code op} for a value that is no number or past 2^24 in magnitude once cast
   */
  private static float idOf(String op, String verb, float value, Tensor ids) {
    if (Float.isNaN(value) || Float.isInfinite(value) || Math.abs((double) (long) value) > DType.MAX_EXACT_INT) {
      throw new IllegalArgumentException(op + ": the value " + value + " " + verb + " ids (int32, PyTorch's int64), which hold whole"
          + " numbers of at most 2^24 in magnitude; got shape " + Shapes.toString(ids.shape()));
    }
    return (long) value;
  }

  /** Whether any of the (non-null) tensors is ids. */
  static boolean anyIds(List<Tensor> tensors) {
    return tensors != null && tensors.stream().anyMatch(t -> t != null && isIds(t));
  }

  /** A value-moving op ({@code max()}, {@code max(dim)}'s values, {@code expand}) of ids: the float op's values as ids. */
  static Tensor keepingIds(Tensor ids, UnaryOperator<Tensor> op) {
    try (var g = Kiln.noGrad()) {
      return asIds(op.apply(toFloat(ids)));
    }
  }
}
