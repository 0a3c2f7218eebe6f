package dev.kiln.processor.ir;

import dev.kiln.dsl.LayerSpec;
import dev.kiln.dsl.ShapeException;
import dev.kiln.runtime.Shapes;
import dev.kiln.runtime.cpu.MaskTest;
import java.util.Arrays;

/**
 * {@code x.maskedFill(mask.eq(0), Float.NEGATIVE_INFINITY)} ({@code F.maskedFill}) in a compiled
 * forward: {@code value} where the model's buffer {@code mask}, tested as written, selects, {@code x}
 * elsewhere, as PyTorch's {@code masked_fill}. The mask repeats over x's leading dimensions (the batch,
 * the heads): its sizes after any leading 1s are x's last ones ({@code [S, S]} or {@code [1, 1, S, S]}
 * over {@code [N, H, S, S]}). Or, in a method of several inputs, the mask is a further input (a padding
 * mask), as it is or reshaped: the step's second value, of the value's rank, the batch first, repeated
 * along one run of dimensions ({@code [N, 1, 1, S]} over {@code [N, H, S, S]}); {@code mask} and
 * {@code maskShape} are then null.
 *
 * @param mask the buffer's field, or null for a mask value (the step's second input)
 * @param maskShape its shape, or null
 * @param test how its values select ({@link MaskTest#NONZERO}: as given)
 * @param against the constant a comparison compares with (0 for NONZERO)
 * @param value what a selected position becomes
 * @param written the call as written, for messages
 */
public record MaskedFill(String mask, int[] maskShape, MaskTest test, float against, float value, String written)
    implements LayerSpec {
  public MaskedFill {
    maskShape = maskShape == null ? null : maskShape.clone();
  }

  /** The {@link #mask} of a causal fill, which no buffer holds. */
  public static final String CAUSAL = "(causal)";

  /**
   * {@code isCausal} of {@code F.scaledDotProductAttention}: {@code value} above the diagonal of each {@code [l, s]} block (the
   * keys after each query's position), as eager's {@code maskedFill(Tensor.ones(l, s).triu(1), -inf)}; the mask is made by
   * the generated code itself, no buffer of the model's.
   */
  public static MaskedFill causal(int l, int s, float value, String written) {
    return new MaskedFill(CAUSAL, new int[] {l, s}, MaskTest.NONZERO, 0f, value, written);
  }

  /** Whether it is a {@link #causal} fill. */
  public boolean causal() {
    return CAUSAL.equals(mask);
  }

  /** Whether the mask is a value of the graph (a further input), not a buffer. */
  public boolean byValue() {
    return mask == null;
  }

  @Override
  public int[] outputShape(int[] in) {
    if (byValue()) { // (the checker fits the mask value to x, Repeat's rules)
      return in.clone();
    }
    int[] core = core();
    boolean fits = maskShape.length <= in.length && core.length < in.length;
    for (int i = 0; fits && i < core.length; i++) {
      fits = core[core.length - 1 - i] == in[in.length - 1 - i];
    }
    if (!fits) {
      throw new ShapeException("the mask " + mask + " " + Shapes.toString(maskShape) + " does not repeat over "
          + Shapes.toString(in) + ": a compiled masked fill takes a mask whose sizes after any leading 1s are the value's"
          + " last ones (" + example(in) + "), repeated over its leading dimensions and the batch");
    }
    return in.clone();
  }

  /** The mask's shape without its leading 1s: the values of one block it fills. */
  private int[] core() {
    int first = 0;
    while (first < maskShape.length - 1 && maskShape[first] == 1) {
      first++;
    }
    return Arrays.copyOfRange(maskShape, first, maskShape.length);
  }

  /** Values of the mask: one block of the value it fills. */
  public int maskSize() {
    return Shapes.numel(maskShape);
  }

  private static String example(int[] in) {
    int[] last = Arrays.copyOfRange(in, Math.max(1, in.length - 2), in.length);
    return Shapes.toString(last);
  }

  @Override
  public String toString() {
    return written;
  }
}
