package test;

import dev.kiln.dsl.Linear;
import dev.kiln.dsl.Model;
import dev.kiln.dsl.Module;
import dev.kiln.runtime.Tensor;

/**
 * {@code Tensor.where(mask, a, b)} of operands of several shapes, broadcast as PyTorch broadcasts them: a row value
 * {@code [N, 4, 1]} and a column value {@code [N, 1, 8]} over {@code [N, 4, 8]}, as b, as a, as the mask, two at once;
 * each branch's gradient summed back to its own shape.
 */
@Model(input = {4, 8})
public class WhereBroadcasts extends Module {
  final Linear fc1 = new Linear(8, 8);
  final Linear fc2 = new Linear(8, 8);
  final Linear head = new Linear(8, 3);

  @Override
  public Tensor forward(Tensor x) {
    Tensor h = fc1.apply(x);                                  // [N, 4, 8]
    Tensor s = h.mean(2, true);                               // [N, 4, 1]: a value per row
    Tensor col = h.mean(1, true);                             // [N, 1, 8]: a value per column
    Tensor g = Tensor.where(h.gt(s), h, s);                   // b repeated along the columns
    g = Tensor.where(s.gt(0), g, col.mul(0.5f));              // the mask [N, 4, 1] and b [N, 1, 8] over [N, 4, 8]
    Tensor k = fc2.apply(g);
    Tensor m = Tensor.where(col.lt(0), s, col.mul(2f));       // a [N, 4, 1] and b [N, 1, 8], the mask [N, 1, 8]: [N, 4, 8]
    return head.apply(k.add(m).mean(1));
  }
}
