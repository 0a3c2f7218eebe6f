package test;

import static dev.kiln.dsl.F.cosineSimilarity;
import static dev.kiln.dsl.F.flatten;

import dev.kiln.dsl.LayerNorm;
import dev.kiln.dsl.Linear;
import dev.kiln.dsl.Model;
import dev.kiln.dsl.Module;
import dev.kiln.runtime.Tensor;

/**
 * Parameters sliced in forward into runs at a stride rather than one contiguous run: the second half of a table's last
 * dimension ({@code pos[:, :T, D:]}), rows of a table narrowed along the last dimension ({@code wpe[:, 1:D+1]}), a weight
 * by hand's first columns ({@code x @ w[:, :D]}), a middle entry selected ({@code gates[:, 1]}), one column viewed as a
 * vector and divided by, a table narrowed along its last dimension then its rows as a where's b, a mixing weight's
columns on the left of a product, and prototypes' first features in a cosine similarity. Each read as eager
 * mode computes it, its gradient added to the runs it came from.
 */
@Model(input = {6, 8})
public class GatheredParameters extends Module {
  static final int L = 10;
  static final int T = 6;
  static final int D = 8;

  final Tensor pos = registerParameter("pos", Tensor.randn(1, L, 2 * D).mul(0.02).requiresGrad(true));
  final Tensor wpe = registerParameter("wpe", Tensor.randn(T, D + 3).requiresGrad(true));
  final Tensor w = registerParameter("w", Tensor.randn(D, D + 2).mul(0.3).requiresGrad(true));
  final Tensor gates = registerParameter("gates", Tensor.randn(T, 3, D).requiresGrad(true));
  final Tensor scales = registerParameter("scales", Tensor.ones(D, 2).add(1).requiresGrad(true));
  final Tensor mix = registerParameter("mix", Tensor.randn(T, T + 2).mul(0.3).requiresGrad(true));
  final Tensor protos = registerParameter("protos", Tensor.randn(3, 2 * D).requiresGrad(true));
  final LayerNorm norm = new LayerNorm(D);
  final Linear head = new Linear(T * D, 3);

  @Override
  public Tensor forward(Tensor x) {
    x = Tensor.where(x.gt(-1f), x, pos.narrow(2, 0, D).narrow(1, 2, T)); // [1, T, D] from row 2
    x = x.add(pos.narrow(1, 0, T).narrow(2, D, D));                     // [1, T, D]: T runs of D, 2D apart
    Tensor p = wpe.narrow(1, 1, D);                                      // [T, D] of [T, D + 3]
    Tensor h = norm.apply(x).mul(p);
    h = h.add(h.matmul(w.narrow(1, 0, D)));                             // x @ w[:, :D]
    h = h.sub(gates.select(1, 1)).div(scales.narrow(1, 1, 1).view(D)); // [T, D] of [T, 3, D]; [D] of [D, 2]
    h = h.add(mix.narrow(1, 1, T).matmul(h));                          // mix[:, 1:T+1] @ h, on the left
    Tensor scores = cosineSimilarity(protos.narrow(1, 0, D), h.view(-1, T, 1, D), -1, 1e-8).mean(1);  // [N, 3]
    return head.apply(flatten(h)).add(scores);
  }
}
