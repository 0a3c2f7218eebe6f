package test;

import static dev.kiln.dsl.F.flatten;

import dev.kiln.dsl.Linear;
import dev.kiln.dsl.Model;
import dev.kiln.dsl.Module;
import dev.kiln.runtime.Tensor;
import java.util.List;

/**
 * The line ops: running sums down the rows, a log-sum-exp over each row (a log-partition), the 1.5-norm of each row
 * kept as a column and the 2-norm of that column; each value read by at most two steps (with three the compiled
 * gradient adds its parts in its own order).
 */
@Model(input = {4, 6})
public class LineOps extends Module {
  final Linear fc = new Linear(6, 6);
  final Linear head = new Linear(9, 3);

  @Override
  public Tensor forward(Tensor x) {
    Tensor h = fc.apply(x);                                  // [N, 4, 6]
    Tensor c = h.cumsum(1);                                  // [N, 4, 6]
    Tensor l = c.logsumexp(-1);                              // [N, 4]
    Tensor r = h.norm(1.5f, 2, true);                        // [N, 4, 1]
    Tensor n = r.norm(2, 1);                                 // [N, 1]
    return head.apply(Tensor.cat(List.of(l, flatten(r), n), 1));
  }
}
