package test;

import dev.kiln.dsl.Linear;
import dev.kiln.dsl.Model;
import dev.kiln.dsl.Module;
import dev.kiln.runtime.Tensor;
import java.util.List;

/**
 * PyTorch's index_select in a compiled forward: the same slices of every sample at constant ids, along the last dimension
 * (an id repeated, a negative one) and the middle one (ids held in a local), the selected value also read by another step;
 * values and every gradient eager mode's bit for bit.
 */
@Model(input = {6})
public class IndexSelects extends Module {
  final Linear fc = new Linear(6, 8);
  final Linear head = new Linear(10, 3);

  @Override
  public Tensor forward(Tensor x) {
    Tensor h = fc.apply(x).view(-1, 2, 4);                      // [N, 2, 4]
    Tensor a = h.indexSelect(2, Tensor.labels(3, 0, 3, -1));   // [N, 2, 4], column 3 twice
    Tensor rows = Tensor.labels(1, 1, 0);
    Tensor b = a.indexSelect(1, rows).tanh();                  // [N, 3, 4]
    Tensor c = b.indexSelect(2, Tensor.labels(1));             // [N, 3, 1]
    Tensor d = b.sum(2).add(c.view(-1, 3));                    // [N, 3]
    return head.apply(Tensor.cat(List.of(d, a.reshape(-1, 8).narrow(1, 0, 7)), 1)); // [N, 10] -> [N, 3]
  }
}
