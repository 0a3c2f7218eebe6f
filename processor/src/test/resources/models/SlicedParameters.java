package test;

import static dev.kiln.dsl.F.flatten;

import dev.kiln.dsl.F;
import dev.kiln.dsl.LayerNorm;
import dev.kiln.dsl.Linear;
import dev.kiln.dsl.Model;
import dev.kiln.dsl.Module;
import dev.kiln.runtime.Tensor;

/**
 * Parameters sliced and viewed in forward with constant bounds, read in place (each a contiguous run of the parameter's
 * values) and their gradients added to that run of the parameter's: a ViT/GPT-style position table of the longest context
 * {@code [1, L, D]} narrowed to the sequence ({@code pos[:, :T]}), nanoGPT's {@code wpe} {@code [L, D]} sliced in a local
 * ({@code wpe[-T:]}, F.narrow), a row of a stacked table selected and narrowed, a weight by hand narrowed to its rows and
 * multiplied ({@code x @ w[:D]}), a gain viewed, and a table subtracted.
 */
@Model(input = {6, 8})
public class SlicedParameters extends Module {
  static final int L = 10;
  static final int T = 6;
  static final int D = 8;

  final Tensor pos = registerParameter("pos", Tensor.randn(1, L, D).mul(0.02).requiresGrad(true));
  final Tensor wpe = registerParameter("wpe", Tensor.randn(L, D).requiresGrad(true));
  final Tensor tables = registerParameter("tables", Tensor.randn(2, L, D).requiresGrad(true));
  final Tensor w = registerParameter("w", Tensor.randn(D + 3, D).mul(0.3).requiresGrad(true));
  final Tensor gain = registerParameter("gain", Tensor.ones(T * D).requiresGrad(true));
  final LayerNorm norm = new LayerNorm(D);
  final Linear head = new Linear(T * D, 3);

  @Override
  public Tensor forward(Tensor x) {
    x = x.add(pos.narrow(1, 0, T));                                       // pos[:, :T]: [1, T, D]
    Tensor p = wpe.slice(0, -T, Integer.MAX_VALUE);                        // wpe[-T:] in a local: [T, D]
    Tensor h = norm.apply(x).mul(p).sub(F.narrow(tables, 0, 1, 1).select(0, 0).narrow(0, 2, T));
    h = h.add(h.matmul(w.narrow(0, 0, D)));                               // x @ w[:D]
    h = h.mul(gain.view(T, D)).add(p);
    return head.apply(flatten(h));
  }
}
