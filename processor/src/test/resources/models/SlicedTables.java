package test;

import static dev.kiln.dsl.F.flatten;

import dev.kiln.dsl.F;
import dev.kiln.dsl.LayerNorm;
import dev.kiln.dsl.Linear;
import dev.kiln.dsl.Model;
import dev.kiln.dsl.Module;
import dev.kiln.runtime.Tensor;

/**
 * Parameters sliced in forward as position tables are (added, subtracted, multiplied by on the right), compared bit for bit
 * with {@link UnslicedTables}, which declares them at the size read: a {@code [1, L, D]} table narrowed to the sequence,
 * {@code wpe[-T:]} in a local read twice, a row of a stacked table selected and narrowed, a weight by hand narrowed to its
 * rows ({@code x @ w[:D]}).
 */
@Model(input = {6, 8})
public class SlicedTables extends Module {
  static final int L = 10;
  static final int T = 6;
  static final int D = 8;

  final Tensor pos = registerParameter("pos", Tensor.randn(1, L, D).mul(0.02).requiresGrad(true));
  final Tensor wpe = registerParameter("wpe", Tensor.randn(L, D).requiresGrad(true));
  final Tensor tables = registerParameter("tables", Tensor.randn(2, L, D).requiresGrad(true));
  final Tensor w = registerParameter("w", Tensor.randn(D + 3, D).mul(0.3).requiresGrad(true));
  final LayerNorm norm = new LayerNorm(D);
  final Linear head = new Linear(T * D, 3);

  @Override
  public Tensor forward(Tensor x) {
    x = x.add(pos.narrow(1, 0, T));
    Tensor p = wpe.slice(0, -T, Integer.MAX_VALUE);
    Tensor h = norm.apply(x).add(p).sub(F.narrow(tables, 0, 1, 1).select(0, 0).narrow(0, 2, T));
    h = h.add(h.matmul(w.narrow(0, 0, D))).sub(p);
    return head.apply(flatten(h));
  }
}
