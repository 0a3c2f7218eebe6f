package dev.kiln.processor.ir;

import dev.kiln.dsl.LayerSpec;
import dev.kiln.dsl.ShapeException;
import dev.kiln.runtime.Shapes;
import java.util.Arrays;

/**
 * {@code x.split(size, dim)}, {@code x.split(new int[] {4, 12}, dim)}, {@code x.chunk(n, dim)} or {@code x.unbind(dim)} in a compiled
 * forward: the pieces along one dimension after the batch, as PyTorch cuts them (the last piece of a {@code split}
 * shorter; {@code chunk} pieces of {@code ceil(size / n)}, fewer where the size runs out first; {@code unbind} every entry,
 * the dimension dropped: each piece a select). nanoGPT's {@code q,
 * k, v = self.c_attn(x).split(self.n_embd, dim=2)} is {@code Tensor[] qkv = cAttn.apply(x).split(D, 2);} and its
 * pieces {@code qkv[0]} .. {@code qkv[2]}. The split is no step itself: each piece forward reads is a {@link Piece}
 * step of the source (a copy, as a narrow's), and a piece no step reads costs nothing (its part of the source's
 * gradient is zero).
 *
 * <p>The sizes of the pieces depend on the source's shape, known to the checker only, which checks the split once
 * ({@link #lengths}) and each piece's index ({@link Piece#outputShape}).
 *
 * @param kind which call it is
 * @param size the split size (a {@link Kind#SIZE} split) or the number of chunks ({@link Kind#CHUNKS})
 * @param given the lengths of a {@link Kind#LENGTHS} split, else empty
 * @param dim the dimension as written (negative counting from the end)
 * @param id which split of the method it is (its pieces' backward writes the source's gradient together)
 * @param text the call as written, for messages and generated comments
 * @param source the call, where its own errors go
 */
public record Split(Kind kind, int size, int[] given, int dim, int id, String text, Source source) {
  /** {@code split(size, dim)}, {@code split(lengths, dim)}, {@code chunk(n, dim)} or {@code unbind(dim)}. */
  public enum Kind {
    SIZE,
    LENGTHS,
    CHUNKS,
    /** Every entry along the dimension, which each piece drops: a piece is a select. */
    UNBIND
  }

  public Split {
    given = given.clone();
  }

  /**
   * What is wrong with the arguments whatever the shape (PyTorch's words), or null: a split size or chunk count
   * below 1 (a compiled dimension is never empty), a negative length.
   */
  public String argumentError() {
    return switch (kind) {
      case SIZE -> size < 0 ? "split expects split_size be non-negative, but got split_size=" + size
          : size == 0 ? "split_size can only be 0 if dimension size is 0, and a compiled forward's dimensions are not empty" : null;
      case CHUNKS -> size < 1 ? "chunk expects `chunks` to be greater than 0, got: " + size : null;
      case LENGTHS -> Arrays.stream(given).anyMatch(l -> l < 0)
          ? "split_with_sizes expects split_sizes have only non-negative entries, but got split_sizes=" + Arrays.toString(given) : null;
      case UNBIND -> null;
    };
  }

  /**
   * The lengths of the pieces of a source of shape {@code in} (the batch {@code -1} first), in order.
   *
   * @throws ShapeException for a dimension out of range or the batch, or lengths that do not add up to its size
   */
  public int[] lengths(int[] in) {
    int d = dimension(in);
    int total = in[d];
    switch (kind) {
      case LENGTHS -> {
        long sum = Arrays.stream(given).asLongStream().sum();
        if (sum != total) {
          throw new ShapeException("split_with_sizes expects split_sizes to sum exactly to " + total + " (input tensor's size at"
              + " dimension " + dim + " of " + Shapes.toString(in) + "), but got split_sizes=" + Arrays.toString(given));
        }
        return given.clone();
      }
      case SIZE, CHUNKS, UNBIND -> {
        int each = kind == Kind.SIZE ? size : kind == Kind.UNBIND ? 1 : (total + size - 1) / size;
        int[] lengths = new int[(total + each - 1) / each];
        for (int t = 0; t < lengths.length; t++) {
          lengths[t] = Math.min(each, total - t * each);
        }
        return lengths;
      }
      default -> throw new AssertionError(kind);
    }
  }

  /**
   * The dimension it cuts, counted from the front of {@code in} (the batch included).
   *
   * @throws ShapeException when it is out of range or the batch
   */
  public int dimension(int[] in) {
    int rank = in.length;
    if (dim < -rank || dim >= rank) {
      throw new ShapeException("Dimension out of range (expected to be in range of [" + -rank + ", " + (rank - 1) + "], but got "
          + dim + ") for " + Shapes.toString(in));
    }
    int d = dim < 0 ? dim + rank : dim;
    if (d == 0) {
      throw new ShapeException("dimension " + dim + " of " + Shapes.toString(in) + " is the batch, which a compiled forward keeps;"
          + " " + (kind == Kind.CHUNKS ? "chunk" : kind == Kind.UNBIND ? "unbind" : "split") + " a dimension after it");
    }
    return d;
  }

  /** The call as the eager Tensor method takes it, after its receiver: {@code split(8, 2)}, {@code chunk(2, -1)}. */
  public String call() {
    return switch (kind) {
      case SIZE -> "split(" + size + ", " + dim + ")";
      case LENGTHS -> "split(new int[] {" + String.join(", ", Arrays.stream(given).mapToObj(String::valueOf).toList()) + "}, " + dim + ")";
      case CHUNKS -> "chunk(" + size + ", " + dim + ")";
      case UNBIND -> "unbind(" + dim + ")";
    };
  }

  @Override
  public String toString() {
    return call();
  }

  /**
   * Piece {@code index} of a split, as a step of the source: a copy of {@code lengths[index]} entries along the
   * split's dimension, from the sum of the lengths before it.
   */
  public record Piece(Split split, int index) implements LayerSpec {
    @Override
    public int[] outputShape(int[] in) {
      int[] lengths = split.lengths(in);
      if (index >= lengths.length) {
        throw new ShapeException(split.call() + " of " + Shapes.toString(in) + " makes " + lengths.length + " piece"
            + (lengths.length == 1 ? "" : "s") + " " + Arrays.toString(lengths) + ", so it has no piece " + index + " (0.."
            + (lengths.length - 1) + ")");
      }
      if (lengths[index] == 0) {
        throw new ShapeException("piece " + index + " of " + split.call() + " of " + Shapes.toString(in) + " is empty "
            + Arrays.toString(lengths) + ", and a compiled forward's values are not: drop the read, or the zero length");
      }
      if (split.kind() == Kind.UNBIND) {
        return narrow(in).outputShape(in);
      }
      int[] out = in.clone();
      out[split.dimension(in)] = lengths[index];
      return out;
    }

    /** The same copy as a narrow of {@code in} (a select, for an unbind), whose slabs the generated code takes. */
    public Narrow narrow(int[] in) {
      if (split.kind() == Kind.UNBIND) {
        return Narrow.select(split.dimension(in), index);
      }
      int[] lengths = split.lengths(in);
      int start = 0;
      for (int t = 0; t < index; t++) {
        start += lengths[t];
      }
      return new Narrow(split.dimension(in), start, lengths[index], false);
    }

    @Override
    public String toString() {
      return split.call() + "[" + index + "]";
    }
  }
}
