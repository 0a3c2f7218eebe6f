package test;

import dev.kiln.dsl.Linear;
import dev.kiln.dsl.Model;
import dev.kiln.dsl.Module;
import dev.kiln.runtime.Tensor;
import java.util.List;

/**
 * unbind: the rows of a value as pieces, each read (the pieces write their slices of the gradient), and a column of
 * another read in place, the others not read (their gradient 0).
 */
@Model(input = {3, 6})
public class UnboundRows extends Module {
  final Linear fc = new Linear(6, 6);
  final Linear gate = new Linear(6, 6);
  final Linear head = new Linear(15, 3);

  @Override
  public Tensor forward(Tensor x) {
    Tensor h = fc.apply(x);                                  // [N, 3, 6]
    Tensor[] rows = h.unbind(1);                             // 3 x [N, 6]
    Tensor gated = rows[0].mul(rows[1].sigmoid());
    Tensor g = gate.apply(x).relu();                           // [N, 3, 6]
    Tensor column = g.unbind(-1)[2];                         // [N, 3]
    return head.apply(Tensor.cat(List.of(gated, rows[2].add(1f), column), 1));
  }
}
