package test;

import static dev.kiln.dsl.F.cosineSimilarity;

import dev.kiln.dsl.Linear;
import dev.kiln.dsl.Model;
import dev.kiln.dsl.Module;
import dev.kiln.runtime.Tensor;

/**
 * The ops read the model's input itself (their backward writes the input's gradient): rows of the input unbound, two
 * of them read; a running sum tiled, a log-sum-exp kept as a column, a flip's cosine similarity with a row.
 */
@Model(input = {4, 6})
public class InputLineOps extends Module {
  final Linear fc = new Linear(12, 3);

  @Override
  public Tensor forward(Tensor x) {
    Tensor[] rows = x.unbind(1);                             // four [N, 6] rows of the input
    Tensor c = rows[0].cumsum(1).repeat(1, 2);               // [N, 12]
    Tensor s = rows[3].logsumexp(1, true);                   // [N, 1]
    Tensor f = rows[2].flip(1).flip();                       // [N, 6] (flip() of no dimension: a copy)
    Tensor cos = cosineSimilarity(f, rows[1], 1, 1e-8).reshape(-1, 1);    // [N, 1]
    return fc.apply(c.mul(s).add(cos));
  }
}
