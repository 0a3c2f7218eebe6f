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
 * <p>With {@link #values}, the constant is ids built in forward ({@code ids.mul(2).add(pos)}, {@code pos} of {@code
 * Tensor.labels(IntStream.range(0, S).toArray())}): they repeat over the ids' leading dimensions, as eager's broadcast
 * ({@link IdKernels#withValues}), so their shape less its leading 1s must end the sample's shape.
 *
 * @param call the Tensor call after its receiver, as generated code writes it: {@code add(1)}, {@code clamp(0, 9)}; with
 *     values, the call as written ({@code ids.add(pos)}), for messages
 * @param values constant ids, or null for a scalar constant
 * @param valuesShape their shape as eager mode holds them (null without values)
 * @param valuesFirst whether the values are the left operand ({@code pos.sub(ids)})
 * @param pair whether the other operand is a second value of the batch, ids too ({@link #ofPair}: the step's second input)
 */
public record IdOp(IdKernels.Op op, long c, long c2, LayerSpec floatForm, String call, int[] values, int[] valuesShape,
    boolean valuesFirst, boolean pair) implements LayerSpec {
  private static IdOp scalar(IdKernels.Op op, long c, long c2, LayerSpec floatForm, String call) {
    return new IdOp(op, c, c2, floatForm, call, null, null, false, false);
  }

  /**
   * {@code a.name(b)} of two values of the batch, both ids ({@code users.mul(V).add(items)}, {@code ids.floorDivide(other)}),
   * or null for another name: the step reads both (its inputs, in the call's order), each broadcast to the result as
   * eager's {@code IdKernels.broadcast}. {@code floatForm} the float step of the same call where it has one (an add, sub or
   * mul of two values: the step it replaces once both are found ids).
   */
  public static IdOp ofPair(String name, String written, LayerSpec floatForm) {
    IdKernels.Op op = binaryOp(name);
    return op == null ? null : new IdOp(op, 0, Long.MAX_VALUE, floatForm, written, null, null, false, true);
  }

  /**
   * {@code ids.name(constant)} or, {@code valuesFirst}, {@code constant.name(ids)} of constant ids ({@code add}, {@code
   * sub}, {@code mul}, {@code floorDivide}, {@code remainder}), or null for another name.
   */
  public static IdOp ofValues(String name, int[] values, int[] shape, boolean valuesFirst, String written) {
    IdKernels.Op op = binaryOp(name);
    return op == null ? null : new IdOp(op, 0, Long.MAX_VALUE, null, written, values.clone(), shape.clone(), valuesFirst, false);
  }
  /** The op of the Tensor method {@code name} of two operands ({@code add}, {@code sub}, {@code mul}, {@code floorDivide}, {@code remainder}), else null. */
  private static IdKernels.Op binaryOp(String name) {
    return switch (name) {
      case "add" -> IdKernels.Op.ADD;
      case "sub" -> IdKernels.Op.SUB;
      case "mul" -> IdKernels.Op.MUL;
      case "floorDivide" -> IdKernels.Op.FLOOR_DIVIDE;
      case "remainder" -> IdKernels.Op.REMAINDER;
      default -> null;
    };
  }

  /** The step of {@code name(args)} ({@code add}, {@code floorDivide}, {@code clampMin}, ...), or null for another call. */
  public static IdOp of(String name, long[] args, LayerSpec floatForm) {
    String joined = args.length == 0 ? "" : args.length == 1 ? String.valueOf(args[0]) : args[0] + ", " + args[1];
    String call = name + "(" + joined + ")";
    return switch (name + "/" + args.length) {
      case "add/1" -> scalar(IdKernels.Op.ADD, args[0], Long.MAX_VALUE, floatForm, call);
      case "sub/1" -> scalar(IdKernels.Op.SUB, args[0], Long.MAX_VALUE, floatForm, call);
      case "mul/1" -> scalar(IdKernels.Op.MUL, args[0], Long.MAX_VALUE, floatForm, call);
      case "floorDivide/1" -> scalar(IdKernels.Op.FLOOR_DIVIDE, args[0], Long.MAX_VALUE, floatForm, call);
      case "remainder/1" -> scalar(IdKernels.Op.REMAINDER, args[0], Long.MAX_VALUE, floatForm, call);
      case "clamp/2" -> scalar(IdKernels.Op.MAX, args[0], args[1], floatForm, call);
      case "clampMin/1" -> scalar(IdKernels.Op.MAX, args[0], Long.MAX_VALUE, floatForm, call);
      case "clampMax/1" -> scalar(IdKernels.Op.MAX, Long.MIN_VALUE, args[0], floatForm, call);
      case "neg/0" -> scalar(IdKernels.Op.NEG, 0, Long.MAX_VALUE, floatForm, call);
      case "abs/0" -> scalar(IdKernels.Op.ABS, 0, Long.MAX_VALUE, floatForm, call);
      default -> null;
    };
  }

  /**
   * The values of {@code steps} that are ids: an argmax's (argmin's, topk's, argsort's) indices, an input or further input
   * an Embedding reaches through integer arithmetic and views, and such arithmetic or views of ids. An IdOp whose output
   * is not among them is of floats (its {@link #floatForm}).
   */
  public static java.util.Set<String> idsValues(java.util.List<StepIr> steps) {
    java.util.Set<String> produced = new java.util.HashSet<>();
    steps.forEach(s -> produced.add(s.output()));
    java.util.Set<String> feedsLookup = new java.util.HashSet<>(); // values an Embedding (or a write's index) reads, through id arithmetic and views
    for (int i = steps.size() - 1; i >= 0; i--) {
      StepIr s = steps.get(i);
      if (ModelIr.looksUp(s.spec())) {
        feedsLookup.add(s.input());
      } else if (s.spec() instanceof Scatter w && w.indexInput() >= 0) { // x.scatter(1, tags.add(1), src): an index is ids too
        feedsLookup.add(s.inputs().get(w.indexInput()));
      } else if (passesIds(s) && feedsLookup.contains(s.output())) {
        feedsLookup.addAll(IdMove.operands(s)); // (both operands of ids.add(other); a where's a and b, not its mask)
      }
    }
    java.util.Set<String> ids = new java.util.HashSet<>();
    for (StepIr s : steps) {
      boolean idsIn = IdMove.operands(s).stream().allMatch(in -> ids.contains(in) || !produced.contains(in) && feedsLookup.contains(in));
      if (s.spec() instanceof LineOp l && l.makesIds() || passesIds(s) && idsIn) {
        ids.add(s.output());
      }
    }
    return ids;
  }

  /**
   * Whether a step passes ids on when its inputs are ids: integer arithmetic, a view, an add, sub or mul of two values
   * (which becomes an {@link #ofPair} step when both are ids), or a move ({@link IdMove}: a narrow, flip, roll, pad).
   */
  private static boolean passesIds(StepIr s) {
    return s.spec() instanceof IdOp || s.spec() instanceof Reshape || s.spec() instanceof dev.kiln.dsl.Flatten.Spec
        || pairOfValues(s) != null || IdMove.moves(s.spec()) || s.spec() instanceof IdMove; // (ids.flip(1): ids moved)
  }

  /** The IdOp an add, sub or mul of two values would be should both be ids ({@link #ofPair}), else null. */
  public static IdOp pairOfValues(StepIr s) {
    if (s.inputs().size() != 2 || !(s.spec() instanceof Add || s.spec() instanceof Sub || s.spec() instanceof Mul)) {
      return null;
    }
    return ofPair(s.spec() instanceof Add ? "add" : s.spec() instanceof Sub ? "sub" : "mul", s.text(), s.spec());
  }

  /**
   * {@code steps} with each IdOp of floats as its float step (same output, inputs, text and source); an IdOp without one
   * stays (an error of its own).
   */
  public static java.util.List<StepIr> asFloatsWhereNotIds(java.util.List<StepIr> steps) {
    java.util.Set<String> ids = idsValues(steps);
    return steps.stream().map(s -> s.spec() instanceof IdOp op && op.floatForm() != null && !ids.contains(s.output())
        ? new StepIr(s.output(), s.inputs(), op.floatForm(), s.layer(), s.text(), s.source()) : s).toList();
  }

  /** The Tensor method of a step with {@link #values}: {@code add}, {@code sub}, {@code mul}, {@code floorDivide}, {@code remainder}. */
  public String valuesMethod() {
    return switch (op) {
      case FLOOR_DIVIDE -> "floorDivide";
      case REMAINDER -> "remainder";
      default -> op.torchName();
    };
  }

  @Override
  public int[] outputShape(int[] in) {
    if (values != null) {
      int lead = 0;
      while (lead < valuesShape.length - 1 && valuesShape[lead] == 1) {
        lead++;
      }
      int[] own = java.util.Arrays.copyOfRange(valuesShape, lead, valuesShape.length);
      int[] sample = java.util.Arrays.copyOfRange(in, 1, in.length);
      if (own.length > sample.length
          || !java.util.Arrays.equals(own, java.util.Arrays.copyOfRange(sample, sample.length - own.length, sample.length))) {
        throw new dev.kiln.dsl.ShapeException("the ids built in forward, " + dev.kiln.runtime.Shapes.toString(valuesShape)
            + ", do not repeat over each sample's ids " + dev.kiln.runtime.Shapes.toString(in) + " (their shape less leading 1s must"
            + " end the sample's, which a compiled forward keeps)");
      }
    }
    return in.clone();
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof IdOp i && i.op == op && i.c == c && i.c2 == c2 && java.util.Objects.equals(i.floatForm, floatForm)
        && i.call.equals(call) && java.util.Arrays.equals(i.values, values) && java.util.Arrays.equals(i.valuesShape, valuesShape)
        && i.valuesFirst == valuesFirst && i.pair == pair;
  }

  @Override
  public int hashCode() {
    return java.util.Objects.hash(op, c, c2, call, java.util.Arrays.hashCode(values), valuesFirst, pair);
  }

  @Override
  public String toString() {
    return call;
  }
}
