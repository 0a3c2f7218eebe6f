package test;

import static dev.kiln.dsl.F.flatten;

import dev.kiln.dsl.LayerNorm;
import dev.kiln.dsl.Linear;
import dev.kiln.dsl.Model;
import dev.kiln.dsl.Module;
import dev.kiln.runtime.Tensor;

/** {@link SlicedTables} with its parameters declared at the sizes its forward reads. */
@Model(input = {6, 8})
public class UnslicedTables extends Module {
  static final int L = 10;
  static final int T = 6;
  static final int D = 8;

  final Tensor pos = registerParameter("pos", Tensor.randn(1, T, D).mul(0.02).requiresGrad(true));
  final Tensor wpe = registerParameter("wpe", Tensor.randn(T, D).requiresGrad(true));
  final Tensor tables = registerParameter("tables", Tensor.randn(T, D).requiresGrad(true));
  final Tensor w = registerParameter("w", Tensor.randn(D, D).mul(0.3).requiresGrad(true));
  final LayerNorm norm = new LayerNorm(D);
  final Linear head = new Linear(T * D, 3);

  @Override
  public Tensor forward(Tensor x) {
    x = x.add(pos);
    Tensor p = wpe;
    Tensor h = norm.apply(x).add(p).sub(tables);
    h = h.add(h.matmul(w)).sub(p);
    return head.apply(flatten(h));
  }
}
