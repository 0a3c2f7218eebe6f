package dev.kiln.processor.ir;

import dev.kiln.dsl.LayerSpec;
import dev.kiln.runtime.cpu.IdKernels;

/**
 * Integer arithmetic of ids with int constants in a compiled forward ({@code emb.apply(ids.add(1))}, {@code
 * ids.remainder(V)}, {@code ids.mul(2).add(1)}, {@code ids.sub(1).clampMin(0)}, {@code logits.argmax(-1).add(1)}):
 * eager mode's {@link IdKernels#withConstant} over the ids, so values and errors (a result past 2^24, a division by
 * zero) are eager's. Ids, without gradient, which an {@code Embedding} (or another such step) alone reads.
 *
 * <p>The reader makes one of each call with int arguments ({@code add(int)}, {@code sub(int)}, {@code mul(int)}, {@code
 * clamp(int, int)}, {@code clampMin(int)}, {@code clampMax(int)}, {@code floorDivide(int)}, {@code remainder(int)}) and of
 * {@code neg()} and {@code abs()} before it knows whether the receiver is ids; where it is not (a float value), the step
 * becomes {@link #floatForm}, the float op eager mode runs ({@code x.add(1)} shifts floats).
 *
 * @param op the operation ({@link IdKernels.Op#MAX} then the minimum {@code c2} for a clamp of two bounds)
 * @param c the constant (0 for neg and abs)
 * @param c2 a clamp's upper bound, or {@link Long#MAX_VALUE} for none
 * @param floatForm the float step eager mode runs on a float receiver, or null where eager takes ids only
 * @param call the Tensor call after its receiver, as generated code writes it: {@code add(1)}, {@code clamp(0, 9)}
 */
public record IdOp(IdKernels.Op op, long c, long c2, LayerSpec floatForm, String call) implements LayerSpec {
  /** The step of {@code name(args)} ({@code add}, {@code floorDivide}, {@code clampMin}, ...), or null for another call. */
  public static IdOp of(String name, long[] args, LayerSpec floatForm) {
    String joined = args.length == 0 ? "" : args.length == 1 ? String.valueOf(args[0]) : args[0] + ", " + args[1];
    String call = name + "(" + joined + ")";
    return switch (name + "/" + args.length) {
      case "add/1" -> new IdOp(IdKernels.Op.ADD, args[0], Long.MAX_VALUE, floatForm, call);
      case "sub/1" -> new IdOp(IdKernels.Op.SUB, args[0], Long.MAX_VALUE, floatForm, call);
      case "mul/1" -> new IdOp(IdKernels.Op.MUL, args[0], Long.MAX_VALUE, floatForm, call);
      case "floorDivide/1" -> new IdOp(IdKernels.Op.FLOOR_DIVIDE, args[0], Long.MAX_VALUE, floatForm, call);
      case "remainder/1" -> new IdOp(IdKernels.Op.REMAINDER, args[0], Long.MAX_VALUE, floatForm, call);
      case "clamp/2" -> new IdOp(IdKernels.Op.MAX, args[0], args[1], floatForm, call);
      case "clampMin/1" -> new IdOp(IdKernels.Op.MAX, args[0], Long.MAX_VALUE, floatForm, call);
      case "clampMax/1" -> new IdOp(IdKernels.Op.MAX, Long.MIN_VALUE, args[0], floatForm, call);
      case "neg/0" -> new IdOp(IdKernels.Op.NEG, 0, Long.MAX_VALUE, floatForm, call);
      case "abs/0" -> new IdOp(IdKernels.Op.ABS, 0, Long.MAX_VALUE, floatForm, call);
      default -> null;
    };
  }

  @Override
  public int[] outputShape(int[] in) {
    return in.clone();
  }

  @Override
  public String toString() {
    return call;
  }
}
