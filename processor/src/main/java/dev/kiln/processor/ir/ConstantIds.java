package dev.kiln.processor.ir;

import dev.kiln.dsl.Embedding;
import dev.kiln.dsl.LayerSpec;
import dev.kiln.runtime.Shapes;
import java.util.Arrays;

/**
 * An {@code Embedding} over ids that forward builds from constants, GPT-2's positions: {@code Tensor pos =
 * Tensor.labels(IntStream.range(0, S).toArray()); x = tok.apply(ids).add(wpe.apply(pos));} (PyTorch's {@code pos =
 * torch.arange(0, t)}, {@code wpe(pos)}). Eager mode makes {@code [S, D]} (or {@code [1, S, D]} for ids viewed
 * {@code [1, S]}), which the add repeats over the batch; the compiled value is those rows for each sample, {@code [N, S,
 * D]}, read by an add of that shape only (the checker sees to it). The step reads the model's first input only to
 * place it in the batch; the input gets no gradient from it. Its backward sums the incoming gradient over the batch
 * (eager mode's broadcast add's sum) and adds each position's row into its id's row of the weight's gradient.
 *
 * @param embedding the layer's spec
 * @param ids the ids in order, each a row of the weight (checked when read)
 * @param shape the ids' shape as eager mode holds them ({@code [S]}, or {@code [1, S]})
 * @param text the ids as written, for messages
 * @param buffer for a buffer of ids ({@code registerBuffer("positionIds", Tensor.labels(...))}, {@code wpe.apply(positionIds)}),
 *     its field, whose values the generated code reads at each call (a load changes them; {@code ids} is null then); else null
 */
public record ConstantIds(Embedding.Spec embedding, int[] ids, int[] shape, String text, String buffer) implements LayerSpec {
  public ConstantIds {
    if ((ids == null) == (buffer == null) || ids != null && ids.length != Shapes.numel(shape)) {
      throw new IllegalArgumentException(text + ": ids or a buffer, of the shape's count");
    }
    ids = ids == null ? null : ids.clone();
    shape = shape.clone();
  }

  /** The ids built from constants. */
  public ConstantIds(Embedding.Spec embedding, int[] ids, int[] shape, String text) {
    this(embedding, ids, shape, text, null);
  }

  /** The buffer of ids {@code buffer} of {@code shape}, read at each call. */
  public static ConstantIds ofBuffer(Embedding.Spec embedding, int[] shape, String text, String buffer) {
    return new ConstantIds(embedding, null, shape, text, buffer);
  }

  /** How many ids it looks up. */
  public int count() {
    return Shapes.numel(shape);
  }

  /** The ids' shape in a sample: eager mode's without its leading 1, which broadcasts over the batch. */
  public int[] sampleShape() {
    return shape.length > 1 && shape[0] == 1 ? Arrays.copyOfRange(shape, 1, shape.length) : shape.clone();
  }

  /** The rows one sample holds: the ids' count times the embedding's size. */
  public int perSample() {
    return count() * embedding.embeddingDim();
  }

  /** The value eager mode makes: the ids' shape and the embedding's size ({@code [S, D]}). */
  public int[] eagerShape() {
    int[] out = Arrays.copyOf(shape, shape.length + 1);
    out[shape.length] = embedding.embeddingDim();
    return out;
  }

  /** The batch {@code -1}, then one sample's rows: {@code [-1, S, D]}, whatever the anchor input's shape. */
  @Override
  public int[] outputShape(int[] in) {
    int[] sample = sampleShape();
    int[] out = new int[sample.length + 2];
    out[0] = -1;
    System.arraycopy(sample, 0, out, 1, sample.length);
    out[out.length - 1] = embedding.embeddingDim();
    return out;
  }

  /** {@code Embedding(8, 16) of [0, 1, ..., 5]}, for messages. */
  @Override
  public String toString() {
    return embedding + " of " + text + " " + Shapes.toString(shape);
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof ConstantIds c && c.embedding.equals(embedding) && Arrays.equals(c.ids, ids) && Arrays.equals(c.shape, shape)
        && c.text.equals(text) && java.util.Objects.equals(c.buffer, buffer);
  }

  @Override
  public int hashCode() {
    return 31 * (31 * embedding.hashCode() + Arrays.hashCode(ids)) + Arrays.hashCode(shape);
  }
}
