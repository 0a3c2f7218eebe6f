package test;

import dev.kiln.dsl.Linear;
import dev.kiln.dsl.Model;
import dev.kiln.dsl.Module;
import dev.kiln.runtime.Tensor;
import java.util.List;
import java.util.stream.IntStream;

/**
 * Buffers of ids as the index forms' index, read at each call as eager mode reads them (a load or a write in place changes
 * them): index_select with an id repeated, index_add with a negative id and alpha, index_copy, index_fill, the selected value
 * read by two steps; values and every gradient eager mode's bit for bit.
 */
@Model(input = {6})
public class BufferIndexes extends Module {
  final Linear fc = new Linear(6, 8);
  final Linear head = new Linear(12, 3);
  final Tensor perm = registerBuffer("perm", Tensor.labels(3, 0, 3, 1));
  final Tensor rows = registerBuffer("rows", Tensor.labels(IntStream.range(0, 2).toArray()));
  final Tensor cols = registerBuffer("cols", Tensor.labels(1, -1));
  final Tensor fill = registerBuffer("fill", Tensor.labels(2));

  @Override
  public Tensor forward(Tensor x) {
    Tensor h = fc.apply(x).view(-1, 2, 4);                     // [N, 2, 4]
    Tensor a = h.indexSelect(2, perm);                         // [N, 2, 4], column 3 twice
    Tensor b = a.indexAdd(2, cols, h.narrow(2, 0, 2), 0.5f);   // [N, 2, 4]
    Tensor c = b.indexCopy(1, rows, a.tanh());                 // [N, 2, 4]
    Tensor d = c.indexFill(2, fill, -1f);                      // [N, 2, 4]
    Tensor e = a.indexSelect(2, this.fill).view(-1, 2);        // [N, 2]
    return head.apply(Tensor.cat(List.of(d.reshape(-1, 8), e, b.sum(2)), 1)); // [N, 12] -> [N, 3]
  }
}
