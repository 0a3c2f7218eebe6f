package test;

import static dev.kiln.dsl.F.cosineSimilarity;

import dev.kiln.dsl.Linear;
import dev.kiln.dsl.Model;
import dev.kiln.dsl.Module;
import dev.kiln.runtime.Tensor;
import java.util.List;

/**
 * Cosine similarities of operands that broadcast: each key against the sample's one query ({@code [N, 1, 6]} expanded
 * over the four keys, the second operand), and a column of row sums against each column ({@code [N, 4, 1]} over the six
 * columns, the first operand, eps raising some norms); their gradients summed back over the expansion, as eager mode's.
 */
@Model(input = {4, 6})
public class CosineQueries extends Module {
  final Linear keys = new Linear(6, 6);
  final Linear query = new Linear(6, 6);
  final Linear values = new Linear(6, 6);
  final Linear head = new Linear(10, 3);

  @Override
  public Tensor forward(Tensor x) {
    Tensor k = keys.apply(x);                                // [N, 4, 6]
    Tensor q = query.apply(x).mean(1, true);                 // [N, 1, 6]
    Tensor scores = cosineSimilarity(k, q, -1, 1e-8);        // [N, 4]
    Tensor v = values.apply(x);                              // [N, 4, 6]
    Tensor across = cosineSimilarity(v.sum(2, true), v, 1, 1.5);   // [N, 6]
    return head.apply(Tensor.cat(List.of(scores, across), 1));
  }
}
