package test;

import static dev.kiln.dsl.F.flatten;

import dev.kiln.dsl.Linear;
import dev.kiln.dsl.Model;
import dev.kiln.dsl.Module;
import dev.kiln.runtime.Tensor;

/**
 * Tensor fields as the operands of {@code Tensor.where(mask, a, b)}, repeated over the result's leading dimensions: a
 * parameter {@code [T, D]} as b, a parameter {@code [D]} as a, a buffer {@code [D]} as b; each parameter's gradient the
 * incoming one where its branch was taken, summed over the batch as eager mode sums it.
 */
@Model(input = {6, 8})
public class WhereFields extends Module {
  final Tensor fill = registerParameter("fill", Tensor.randn(6, 8).requiresGrad(true));
  final Tensor row = registerParameter("row", Tensor.randn(8).requiresGrad(true));
  final Tensor floor = registerBuffer("floor", Tensor.randn(8).mul(0.1));
  final Linear fc1 = new Linear(8, 8);
  final Linear head = new Linear(6 * 8, 3);

  @Override
  public Tensor forward(Tensor x) {
    Tensor h = fc1.apply(x);                           // [N, 6, 8]
    Tensor g = Tensor.where(h.gt(0), h, fill);         // b a parameter [6, 8]
    Tensor s = h.mean(2, true);                        // [N, 6, 1]
    g = Tensor.where(s.lt(0), row, g.sub(s));          // a a parameter [8], the mask [N, 6, 1]
    g = Tensor.where(g.gt(0.5f), g, floor);            // b a buffer [8]
    return head.apply(flatten(g));
  }
}
