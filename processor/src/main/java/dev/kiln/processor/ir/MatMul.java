package dev.kiln.processor.ir;

import dev.kiln.dsl.LayerSpec;
import dev.kiln.dsl.ShapeException;
import dev.kiln.runtime.Shapes;

/**
 * {@code F.matmul(a, b)} ({@code a.matmul(b)}) of two values in a compiled forward: the last two
 * dimensions multiply as matrices, the ones before (the batch first) are batches of equal sizes, as
 * PyTorch's {@code torch.matmul} for operands of one rank: {@code [N, S, D] @ [N, D, T] -> [N, S, T]},
 * {@code [N, H, S, Dh] @ [N, H, Dh, T] -> [N, H, S, T]} (no broadcasting of the batch dimensions); or of a
 * value and a tensor field of the model, one matrix on the right ({@link #outputShapeByField}) or on the left
 * ({@link #outputShapeByFieldOnLeft}).
 *
 * @param fieldTransposed whether a field on the right is read transposed ({@code x @ w^T} of a {@code [out, in]} weight, as
 *     a Linear reads its weight): the product the attention layers' in-projection expands into (docs/design-notes.md,
 *     "Compiled attention layers"); false for every product written in forward
 */
public record MatMul(boolean fieldTransposed) implements LayerSpec {
  /** A product as forward writes it ({@code a.matmul(b)}). */
  public MatMul() {
    this(false);
  }

  /** Not used: a matmul's shape comes from both operands ({@link #outputShape(int[], int[])}). */
  @Override
  public int[] outputShape(int[] inputShape) {
    throw new UnsupportedOperationException("a matmul's shape comes from both operands");
  }

  /**
   * The product's shape, batch first as -1.
   *
   * @throws ShapeException saying which dimensions do not fit (the caller names both shapes)
   */
  public int[] outputShape(int[] a, int[] b) {
    if (a.length != b.length) {
      throw new ShapeException("their ranks differ (" + a.length + " and " + b.length + "); a compiled matmul takes operands"
          + " of one rank, the batch and any dimensions before the last two being batches of equal sizes");
    }
    if (a.length < 3) {
      throw new ShapeException("each is the batch and " + (a.length - 1) + " dimension; a compiled matmul multiplies the last"
          + " two dimensions of each sample as matrices ([N, S, D] @ [N, D, T]), so both need at least 3 dimensions");
    }
    int r = a.length;
    for (int d = 1; d < r - 2; d++) {
      if (a[d] != b[d]) {
        throw new ShapeException("batch dimension " + d + " has size " + a[d] + " on the left and " + b[d] + " on the right;"
            + " a compiled matmul does not broadcast them");
      }
    }
    if (a[r - 1] != b[r - 2]) {
      throw new ShapeException("it contracts dimension " + (r - 1) + " of the left (size " + a[r - 1] + ") with dimension "
          + (r - 2) + " of the right (size " + b[r - 2] + "), which differ; transpose an operand (k.transpose(-2, -1))"
          + " where its matrices are the other way round");
    }
    int[] out = a.clone();
    out[r - 1] = b[r - 1];
    Shapes.numel(java.util.Arrays.copyOfRange(out, 1, r)); // one sample's values fit an array
    return out;
  }

  /**
   * The product of a value and a tensor field on its right ({@code x.matmul(w)}): the field is one
   * matrix {@code [K, M]} multiplying every row of the value, {@code [N, K] @ [K, M] -> [N, M]} or
   * {@code [N, S, D] @ [D, T] -> [N, S, T]}, as PyTorch broadcasts a matrix over the leading dimensions.
   *
   * @throws ShapeException saying which dimensions do not fit (the caller names both shapes)
   */
  public int[] outputShapeByField(int[] value, int[] field) {
    if (fieldTransposed && field.length == 2) { // x @ w^T: the field [out, in] read as [in, out]
      return new MatMul().outputShapeByField(value, new int[] {field[1], field[0]});
    }
    if (field.length != 2) {
      throw new ShapeException("a tensor field multiplies a value as one matrix [K, M] (x.matmul(w): [N, K] @ [K, M],"
          + " [N, S, D] @ [D, T]), but this one has " + field.length + (field.length == 1 ? " dimension" : " dimensions"));
    }
    int r = value.length;
    if (r < 2) {
      throw new ShapeException("the left is the batch alone; a tensor field multiplies the rows of a value [N, K] or"
          + " [N, ..., K]");
    }
    if (value[r - 1] != field[0]) {
      throw new ShapeException("it contracts dimension " + (r - 1) + " of the left (size " + value[r - 1] + ") with dimension 0"
          + " of the right (size " + field[0] + "), which differ; a weight on the right of x.matmul(w) is [in, out], the"
          + " transpose of a Linear's weight [out, in]");
    }
    int[] out = value.clone();
    out[r - 1] = field[1];
    Shapes.numel(java.util.Arrays.copyOfRange(out, 1, r)); // one sample's values fit an array
    return out;
  }

  /**
   * The product of a tensor field on the left and a value ({@code w.matmul(x)}): the field is one matrix
   * {@code [M, K]} multiplying each sample's matrices, {@code [M, K] @ [N, K, T] -> [N, M, T]}, as PyTorch broadcasts
   * a matrix over the batch (a token-mixing MLP's {@code w @ x} over {@code [N, S, D]}).
   *
   * @throws ShapeException saying which dimensions do not fit (the caller names both shapes)
   */
  public int[] outputShapeByFieldOnLeft(int[] field, int[] value) {
    if (field.length != 2) {
      throw new ShapeException("a tensor field on the left multiplies each sample's matrices as one matrix [M, K] (w.matmul(x):"
          + " [M, K] @ [N, K, T]), but this one has " + field.length + (field.length == 1 ? " dimension" : " dimensions"));
    }
    int r = value.length;
    if (r < 3) {
      throw new ShapeException("the right is " + (r == 1 ? "the batch alone" : "one vector per sample") + "; a tensor field on"
          + " the left multiplies each sample's matrices [K, T] of a value [N, K, T] (or [N, ..., K, T])");
    }
    if (field[1] != value[r - 2]) {
      throw new ShapeException("it contracts dimension 1 of the left (size " + field[1] + ") with dimension " + (r - 2)
          + " of the right (size " + value[r - 2] + "), which differ; transpose the value (x.transpose(-2, -1)) where its"
          + " matrices are the other way round");
    }
    int[] out = value.clone();
    out[r - 2] = field[0];
    Shapes.numel(java.util.Arrays.copyOfRange(out, 1, r)); // one sample's values fit an array
    return out;
  }

  @Override
  public String toString() {
    return "matmul";
  }
}
