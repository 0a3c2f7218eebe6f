package test;

import static dev.kiln.dsl.F.cosineSimilarity;

import dev.kiln.dsl.Linear;
import dev.kiln.dsl.Model;
import dev.kiln.dsl.Module;
import dev.kiln.runtime.Tensor;
import java.util.List;

/**
 * Cosine similarities of two projections: of each row, with an eps that raises some rows' norms (whose gradient then
 * goes through the raised norm, as PyTorch 1.13's in-place clamp makes it), and along the rows with PyTorch's
 * defaults (dimension 1, eps 1e-8); each value read by at most two steps.
 */
@Model(input = {4, 6})
public class CosineHeads extends Module {
  final Linear fa = new Linear(6, 6);
  final Linear fb = new Linear(6, 6);
  final Linear head = new Linear(10, 3);

  @Override
  public Tensor forward(Tensor x) {
    Tensor a = fa.apply(x);                                  // [N, 4, 6]
    Tensor b = fb.apply(x);                                  // [N, 4, 6]
    Tensor rows = cosineSimilarity(a, b, -1, 1.2);           // [N, 4]
    Tensor columns = cosineSimilarity(a.mul(0.5f), b);       // [N, 6]
    return head.apply(Tensor.cat(List.of(rows, columns), 1));
  }
}
