package dev.kiln.dsl;

import dev.kiln.runtime.Ops;
import dev.kiln.runtime.Shapes;
import dev.kiln.runtime.Tensor;
import java.util.Arrays;
import java.util.List;

/**
 * A batch of sequences of different lengths, as PyTorch's {@code PackedSequence}: what {@code
 * pack_padded_sequence(x, lengths, enforce_sorted=False)} makes and a recurrent layer runs over,
 * each sequence for its own length only (its last states are those of its last real step, and
 * a bidirectional layer's backward direction starts at that step, not in the padding). Kiln keeps
 * the padded form: {@link #padded()} is the batch {@code [T, B, *]} (or {@code [B, T, *]} with
 * {@code batchFirst}), T the longest length, zero past each sequence's end (PyTorch's {@code
 * pad_packed_sequence}), and {@link #lengths()} the lengths in the batch's order. The sequences
 * may come in any order: a recurrent layer sorts them and gives its results back in this order.
 *
 * <pre>{@code
 * PackedSequence packed = PackedSequence.pack(embedded, lengths, true);   // [B, T, E], lengths per row
 * var out = lstm.forwardWithState(packed);                                 // LSTM(E, H).batchFirst(true)
 * Tensor last = out.h().select(0, 0);                                      // [B, H], each at its own end
 * Tensor seq = out.output().padded();                                      // [B, maxLength, H], zero past the ends
 * }</pre>
 */
public final class PackedSequence {
  private final Tensor padded;
  private final int[] lengths;
  private final boolean batchFirst;

  private PackedSequence(Tensor padded, int[] lengths, boolean batchFirst) {
    this.padded = padded;
    this.lengths = lengths;
    this.batchFirst = batchFirst;
  }

  /**
   * PyTorch's {@code pack_padded_sequence(padded, lengths, batch_first, enforce_sorted=False)}: the
   * first {@code lengths[b]} steps of each sequence {@code b} of {@code padded} ({@code [T, B, *]}, or
   * {@code [B, T, *]} with {@code batchFirst}); what lies past a length is ignored (it gets no
   * gradient), and the steps past the longest are dropped.
   *
   * @throws IllegalArgumentException for a length outside 1..T, or not one length per sequence
   */
  public static PackedSequence pack(Tensor padded, int[] lengths, boolean batchFirst) {
    if (padded.dim() < 2) {
      throw new IllegalArgumentException("pack: the padded batch must be [T, B, *] (or [B, T, *] with batchFirst), got "
          + Shapes.toString(padded.shape()));
    }
    int batchDim = batchFirst ? 0 : 1, timeDim = 1 - batchDim;
    int batch = padded.size(batchDim), steps = padded.size(timeDim);
    if (batch == 0) {
      throw new IllegalArgumentException("pack: the batch " + Shapes.toString(padded.shape()) + " has no sequences");
    }
    if (lengths.length != batch) {
      throw new IllegalArgumentException("pack: " + lengths.length + " lengths for a batch of " + batch + " sequences ("
          + Shapes.toString(padded.shape()) + (batchFirst ? ", batch first" : ", time first") + ")");
    }
    int longest = 0;
    for (int b = 0; b < batch; b++) {
      if (lengths[b] < 1 || lengths[b] > steps) {
        throw new IllegalArgumentException("pack: the length of sequence " + b + " is " + lengths[b] + ", not in 1.." + steps
            + " (the padded batch " + Shapes.toString(padded.shape()) + " has " + steps + " steps; PyTorch refuses an empty sequence too)");
      }
      longest = Math.max(longest, lengths[b]);
    }
    Tensor x = longest < steps ? padded.narrow(timeDim, 0, longest) : padded;
    return new PackedSequence(masked(x, lengths, batchFirst), lengths.clone(), batchFirst);
  }

  /** As {@link #pack(Tensor, int[], boolean)}, the lengths a label tensor {@code [B]} (PyTorch passes a tensor). */
  public static PackedSequence pack(Tensor padded, Tensor lengths, boolean batchFirst) {
    if (lengths.dim() != 1) {
      throw new IllegalArgumentException("pack: lengths must be 1-D, one per sequence, got " + Shapes.toString(lengths.shape()));
    }
    return pack(padded, lengths.toIntArray(), batchFirst);
  }

  /**
   * PyTorch's {@code pack_sequence(sequences, enforce_sorted=False)}: sequences {@code [L_i, *]} of
   * any lengths, padded ({@link Tensor#padSequence}) and packed.
   */
  public static PackedSequence of(List<Tensor> sequences, boolean batchFirst) {
    int[] lengths = sequences.stream().mapToInt(s -> s.dim() == 0 ? 0 : s.size(0)).toArray();
    return pack(Tensor.padSequence(sequences, batchFirst, 0f), lengths, batchFirst);
  }

  /** A recurrent layer's output: already zero past each length. */
  static PackedSequence ofPadded(Tensor padded, int[] lengths, boolean batchFirst) {
    return new PackedSequence(padded, lengths, batchFirst);
  }

  /** {@code x} with the steps past each sequence's length set to zero (x itself when none are). */
  private static Tensor masked(Tensor x, int[] lengths, boolean batchFirst) {
    int batchDim = batchFirst ? 0 : 1;
    int steps = x.size(1 - batchDim), batch = x.size(batchDim);
    if (Arrays.stream(lengths).allMatch(l -> l == steps)) {
      return x;
    }
    int[] shape = new int[x.dim()];
    Arrays.fill(shape, 1);
    shape[batchDim] = batch;
    shape[1 - batchDim] = steps;
    float[] mask = new float[batch * steps];
    for (int b = 0; b < batch; b++) {
      for (int t = 0; t < lengths[b]; t++) {
        mask[batchFirst ? b * steps + t : t * batch + b] = 1f;
      }
    }
    return Ops.mul(x, Tensor.of(mask, shape).to(x.device()));
  }

  /**
   * The batch, zero past each sequence's end, T the longest length: PyTorch's {@code
   * pad_packed_sequence(packed, batch_first)[0]}.
   */
  public Tensor padded() {
    return padded;
  }

  /** Each sequence's length, in the batch's order (PyTorch's second result of {@code pad_packed_sequence}). */
  public int[] lengths() {
    return lengths.clone();
  }

  /** Whether {@link #padded()} is {@code [B, T, *]}. */
  public boolean batchFirst() {
    return batchFirst;
  }

  /** The padded batch in time-major order {@code [T, B, *]}. */
  Tensor timeMajor() {
    return batchFirst ? padded.transpose(0, 1) : padded;
  }

  @Override
  public String toString() {
    return "PackedSequence(" + Shapes.toString(padded.shape()) + (batchFirst ? ", batch first" : "") + ", lengths="
        + Arrays.toString(lengths) + ")";
  }
}
