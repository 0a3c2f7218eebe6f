package dev.kiln.processor.ir;

import dev.kiln.dsl.LayerSpec;
import dev.kiln.runtime.cpu.MaskTest;
import java.util.Locale;

/**
 * A mask used as a float value in a compiled forward ({@code Tensor keep = ids.ne(0);} then
 * {@code h.mul(keep.unsqueeze(-1))}, {@code keep.sum(1, true)}): 1 where {@code test} against {@code against}
 * selects, else 0, as eager mode's comparisons give a FLOAT32 tensor without gradient. It reads an input (ids,
 * a further input) as it is or viewed, or two values ({@code x.lt(y)}, and the logical ops {@code a.logicalAnd(b)},
 * {@code logicalOr}, {@code logicalXor}, whose test is {@link MaskTest#AND} ...); its inputs get no gradient.
 *
 * @param test the comparison ({@link MaskTest#EQ} for {@code eq}, and for {@code x.logicalNot()} with 0)
 * @param against the constant compared with (unused for two values)
 */
public record Compare(MaskTest test, float against) implements LayerSpec {
  @Override
  public int[] outputShape(int[] in) {
    return in.clone();
  }

  /** The Tensor method that computes it: {@code ne}; {@code logicalAnd} for a logical op of two values. */
  public String method() {
    return switch (test) {
      case AND -> "logicalAnd";
      case OR -> "logicalOr";
      case XOR -> "logicalXor";
      default -> test.name().toLowerCase(Locale.ROOT);
    };
  }

  @Override
  public String toString() {
    return method() + "(" + against + ")";
  }
}
