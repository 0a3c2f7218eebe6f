package dev.kiln.processor.ir;

import dev.kiln.dsl.ShapeException;
import java.util.List;
import java.util.stream.Collectors;

/**
 * {@code F.permute(x, dims...)} ({@code x.permute(dims...)}) in a compiled forward: dimension
 * {@code i} of the result is the input's {@code dims[i]} (negative counting from the end), as
 * PyTorch's; the batch stays first ({@code permute(x, 0, 2, 1, 3)}).
 */
public record Permute(List<Integer> dims) implements Reorder {
  public Permute {
    dims = List.copyOf(dims);
  }

  @Override
  public int[] order(int rank) {
    if (dims.size() != rank) {
      throw new ShapeException("it names " + dims.size() + " dimensions, the value has " + rank);
    }
    int[] order = new int[rank];
    boolean[] seen = new boolean[rank];
    for (int i = 0; i < rank; i++) {
      int d = Reorder.dimension(dims.get(i), rank);
      if (seen[d]) {
        throw new ShapeException("dimension " + dims.get(i) + " appears twice");
      }
      seen[d] = true;
      order[i] = d;
    }
    if (order[0] != 0) {
      throw new ShapeException("a compiled model keeps dimension 0 as the batch, so the order starts with 0");
    }
    return order;
  }

  @Override
  public String toString() {
    return "permute(" + dims.stream().map(String::valueOf).collect(Collectors.joining(", ")) + ")";
  }
}
