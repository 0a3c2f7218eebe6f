package dev.kiln.processor.ir;

import dev.kiln.dsl.LayerSpec;
import dev.kiln.runtime.cpu.MaskTest;
import java.util.Locale;

/**
 * A mask used as a float value in a compiled forward ({@code Tensor keep = ids.ne(0);} then
 * {@code h.mul(keep.unsqueeze(-1))}, {@code keep.sum(1, true)}): 1 where {@code test} against {@code against}
 * selects, else 0, as eager mode's comparisons give a FLOAT32 tensor without gradient. It reads an input (ids,
 * a further input) as it is or viewed; its input gets no gradient.
 *
 * @param test the comparison ({@link MaskTest#EQ} for {@code eq})
 * @param against the constant compared with
 */
public record Compare(MaskTest test, float against) implements LayerSpec {
  @Override
  public int[] outputShape(int[] in) {
    return in.clone();
  }

  /** The Tensor method that computes it: {@code ne}. */
  public String method() {
    return test.name().toLowerCase(Locale.ROOT);
  }

  @Override
  public String toString() {
    return method() + "(" + against + ")";
  }
}
