package dev.kiln.processor.ir;

import dev.kiln.dsl.ShapeException;

/**
 * {@code F.transpose(x, d0, d1)} ({@code x.transpose(d0, d1)}) in a compiled forward: dimensions
 * {@code d0} and {@code d1} swapped (negative counting from the end, as PyTorch's), neither the batch.
 */
public record Transpose(int d0, int d1) implements Reorder {
  @Override
  public int[] order(int rank) {
    int a = Reorder.dimension(d0, rank);
    int b = Reorder.dimension(d1, rank);
    if (a == 0 || b == 0) {
      throw new ShapeException("a compiled model keeps dimension 0 as the batch; transpose two dimensions after it");
    }
    int[] order = new int[rank];
    for (int i = 0; i < rank; i++) {
      order[i] = i == a ? b : i == b ? a : i;
    }
    return order;
  }

  @Override
  public String toString() {
    return "transpose(" + d0 + ", " + d1 + ")";
  }
}
