package dev.kiln.processor.ir;

import dev.kiln.dsl.LayerSpec;
import dev.kiln.dsl.ShapeException;
import dev.kiln.runtime.Shapes;

/**
 * {@code F.matmul(a, b)} ({@code a.matmul(b)}) of two values in a compiled forward: the last two
 * dimensions multiply as matrices, the ones before (the batch first) are batches of equal sizes, as
 * PyTorch's {@code torch.matmul} for operands of one rank: {@code [N, S, D] @ [N, D, T] -> [N, S, T]},
 * {@code [N, H, S, Dh] @ [N, H, Dh, T] -> [N, H, S, T]} (no broadcasting of the batch dimensions).
 */
public record MatMul() implements LayerSpec {
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

  @Override
  public String toString() {
    return "matmul";
  }
}
