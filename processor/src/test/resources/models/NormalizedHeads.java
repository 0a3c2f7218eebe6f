package test;

import static dev.kiln.dsl.F.flatten;
import static dev.kiln.dsl.F.normalize;
import static dev.kiln.dsl.F.reshape;

import dev.kiln.dsl.Linear;
import dev.kiln.dsl.Model;
import dev.kiln.dsl.Module;
import dev.kiln.runtime.Tensor;

/**
 * F.normalize as an embedding head uses it (PyTorch's defaults: p 2 along dimension 1), and along other dimensions:
 * the 1-norm across rows, the 2-norm of each row with an eps that clamps some norms, and along a dimension of size 1
 * (x / |x| where not clamped, whose gradient is 0 but for rounding: an eps clamps some, so that it carries one);
 * each value read by one step (where several read one, the compiled gradient adds their parts in its own order).
 */
@Model(input = {4, 6})
public class NormalizedHeads extends Module {
  final Linear fc = new Linear(6, 6);
  final Linear head = new Linear(24, 3);

  @Override
  public Tensor forward(Tensor x) {
    Tensor h = fc.apply(x);                                            // [N, 4, 6]
    Tensor a = normalize(h, 1, 1, 1e-3);                               // along the 4 rows, 1-norm
    Tensor b = normalize(a.mul(4f), 2, -1, 1.0);                       // each row, norms below 1 clamped
    Tensor c = normalize(reshape(b, -1, 4, 6, 1), 2, 3, 0.3);          // along a dimension of size 1, |x| / max(|x|, 0.3)
    return head.apply(normalize(flatten(c.add(0.5f))));
  }
}
