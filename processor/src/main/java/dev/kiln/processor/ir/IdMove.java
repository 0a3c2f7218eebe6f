package dev.kiln.processor.ir;

import dev.kiln.dsl.LayerSpec;

/**
 * Ids moved in a compiled forward: a {@link Narrow}, {@link Flip}, {@link Roll} or {@link Pad} whose input is ids (the
 * input an Embedding looks up through it, an argmax's indices, ids computed in forward), or a {@link Where} whose a and b
 * are such ids (its mask, a and b broadcast), or a sum ({@link Reduce}, not a mean) of ids, which eager mode computes in 64
 * bits and refuses past 2^24 ({@code ids.clamp(0, 1).sum(1, true)}: each sample's count of ids that are not the padding
 * 0), as {@code emb.apply(ids.flip(1))} or {@code emb.apply(F.pad(ids, new int[] {1, 0}, 0).narrow(1, 0, S))} (shifted
 * right past a start token). The step moves
 * whole values as the float step would (each an exact float), so it runs the float step's forward; the result is ids,
 * without gradient, which an Embedding (or more integer arithmetic, or another move) alone reads. A pad's value is the id
 * eager mode pads with: the float cast toward zero, as PyTorch casts it to the int64 tensor's type.
 *
 * @param move the float step it runs: a Narrow, an {@link IndexMap} (Pad, Flip), a Roll or a Where
 */
public record IdMove(LayerSpec move) implements LayerSpec {
  /**
   * Whether a step of {@code spec} moves the values of its operands, and so moves ids where they are ids: a narrow, flip,
   * roll or pad of one input, or a where of two ({@code Tensor.where(mask, ids, other)}: its mask is no operand).
   */
  public static boolean moves(LayerSpec spec) {
    return spec instanceof Narrow || spec instanceof IndexMap || spec instanceof Roll || spec instanceof Where
        || spec instanceof Reduce r && !r.mean();
  }

  /** Whether this sums ids ({@code ids.clamp(0, 1).sum(1, true)}, lengths): in 64 bits, past 2^24 eager's error. */
  public boolean sum() {
    return move instanceof Reduce;
  }

  /** The values a step moves (a where's a and b, not its mask; the one input of the others): ids where it moves ids. */
  public static java.util.List<String> operands(StepIr s) {
    boolean where = s.spec() instanceof Where || s.spec() instanceof IdMove m && m.move() instanceof Where;
    return where ? s.inputs().subList(0, 2) : s.inputs();
  }

  /** Whether this moves ids by a mask ({@code Tensor.where(ids.eq(3), ids, other)}): three inputs, the mask last. */
  public boolean where() {
    return move instanceof Where;
  }

  /**
   * The move of ids that {@code spec} is on ids: a pad's value cast to an id.
   *
   * @throws IllegalArgumentException for a pad value that is no number or past 2^24 in magnitude once cast (eager's error)
   */
  public static IdMove of(LayerSpec spec) {
    if (spec instanceof Pad p) {
      float value = p.value();
      if (Float.isNaN(value) || Float.isInfinite(value) || Math.abs((double) (long) value) > dev.kiln.runtime.DType.MAX_EXACT_INT) {
        throw new IllegalArgumentException("the value " + value + " pads ids (int32, PyTorch's int64), which hold whole numbers of"
            + " at most 2^24 in magnitude");
      }
      return new IdMove(new Pad(p.pads(), (long) value));
    }
    return new IdMove(spec);
  }

  @Override
  public int[] outputShape(int[] in) {
    return move.outputShape(in);
  }

  @Override
  public String toString() {
    return move.toString();
  }
}
