package dev.kiln.processor.ir;

import dev.kiln.dsl.LayerSpec;
import dev.kiln.dsl.ShapeException;
import dev.kiln.runtime.Shapes;
import java.util.List;
import java.util.stream.Collectors;

/**
 * {@code x.sum(dim)}, {@code x.mean(dim, keepDim)} ({@code F.sum}, {@code F.mean}) in a compiled forward:
 * the sum or mean along one dimension after the batch (negative counting from the end, as PyTorch's),
 * removed, or kept with size 1 when {@code keepDim}. A transformer classifier's pooling over its tokens,
 * {@code x.mean(1)}: {@code [N, S, D] -> [N, D]}. Or over several dimensions at once, written as an array
 * ({@code x.mean(new int[] {2, 3})}, PyTorch's {@code x.mean(dim=(2, 3))}, global average pooling
 * {@code [N, C, H, W] -> [N, C]}): in any order, none repeated, none the batch. Added in double and
 * rounded once, as eager mode's.
 *
 * @param mean a mean (the sum times {@code 1f / count}, the product of the reduced sizes), else a sum
 * @param dims the dimensions as written, one for {@code x.sum(dim)}
 * @param several written as an array ({@code x.sum(new int[] {2})} too), for messages
 */
public record Reduce(boolean mean, List<Integer> dims, boolean keepDim, boolean several) implements LayerSpec {
  public Reduce {
    dims = List.copyOf(dims);
    if (!several && dims.size() != 1) {
      throw new IllegalArgumentException("a reduction along one dimension has one, not " + dims);
    }
  }

  /** Along one dimension, {@code x.sum(dim, keepDim)}. */
  public Reduce(boolean mean, int dim, boolean keepDim) {
    this(mean, List.of(dim), keepDim, false);
  }

  @Override
  public int[] outputShape(int[] in) {
    boolean[] reduced;
    try {
      reduced = reduced(in.length);
    } catch (ShapeException e) {
      throw new ShapeException(this + " cannot take " + Shapes.toString(in) + ": " + e.getMessage());
    }
    return Shapes.reducedShape(in, reduced, keepDim);
  }

  /**
   * The one dimension, counted from the front for a value of {@code rank} dimensions (the batch included).
   *
   * @throws ShapeException when it is out of range or the batch
   */
  public int dimension(int rank) {
    return dimension(dims.get(0), rank);
  }

  private static int dimension(int dim, int rank) {
    if (dim < -rank || dim >= rank) {
      throw new ShapeException("dimension " + dim + " is out of range for " + rank + " dimensions (" + -rank + ".." + (rank - 1)
          + ")");
    }
    int d = dim < 0 ? dim + rank : dim;
    if (d == 0) {
      throw new ShapeException("dimension " + dim + " is the batch, which a compiled forward keeps; reduce a dimension after"
          + " it, or reduce the model's output outside forward");
    }
    return d;
  }

  /**
   * Which dimensions of a value of {@code rank} dimensions (the batch included) are reduced.
   *
   * @throws ShapeException for a dimension out of range, the batch, or one given twice; for none at
   *     all (PyTorch's every dimension, the batch among them)
   */
  public boolean[] reduced(int rank) {
    if (dims.isEmpty()) {
      throw new ShapeException("no dimensions means every dimension in PyTorch, the batch among them, which a compiled forward"
          + " keeps; list the dimensions after it, or reduce the model's output outside forward");
    }
    boolean[] reduced = new boolean[rank];
    int[] given = new int[rank];
    for (int dim : dims) {
      int d = dimension(dim, rank);
      if (reduced[d]) {
        throw new ShapeException("dimension " + dim + (dim == given[d] ? " is given twice" : " repeats dimension " + given[d])
            + " (each dimension is reduced once)");
      }
      reduced[d] = true;
      given[d] = dim;
    }
    return reduced;
  }

  /**
   * The input seen as {@code [outer, size, inner]} around the dimension, per sample: {@code outer} the
   * values of one sample before it (times the batch: {@code n * outer}), {@code size} its size.
   */
  public int[] along(int[] in) {
    int d = dimension(in.length);
    int outer = 1, inner = 1;
    for (int i = 1; i < d; i++) {
      outer *= in[i];
    }
    for (int i = d + 1; i < in.length; i++) {
      inner *= in[i];
    }
    return new int[] {outer, in[d], inner};
  }

  /**
   * The input of one sample seen as alternating runs {@code [kept, reduced, kept, ..., kept]} of
   * adjacent dimensions ({@link Shapes#reductionRuns}; the batch joins the first run, times {@code n}):
   * {@code [C, H*W, 1]} for {@code (2, 3)} of {@code [N, C, H, W]}, {@code [1, C, H, W, 1]} for {@code (1, 3)}.
   */
  public int[] runs(int[] in) {
    int[] sample = in.clone();
    sample[0] = 1;
    return Shapes.reductionRuns(sample, reduced(in.length));
  }

  /** How many values each output sums: the product of the reduced sizes. */
  public int count(int[] in) {
    boolean[] reduced = reduced(in.length);
    int count = 1;
    for (int d = 0; d < in.length; d++) {
      count *= reduced[d] ? in[d] : 1;
    }
    return count;
  }

  @Override
  public String toString() {
    String dimsText = several ? "new int[] {" + dims.stream().map(String::valueOf).collect(Collectors.joining(", ")) + "}"
        : String.valueOf(dims.get(0));
    return (mean ? "mean(" : "sum(") + dimsText + (keepDim ? ", true)" : ")");
  }
}
