package test;

import static dev.kiln.dsl.F.flatten;

import dev.kiln.dsl.Linear;
import dev.kiln.dsl.Model;
import dev.kiln.dsl.Module;
import dev.kiln.runtime.Tensor;

/**
 * Tensor fields as any operand of {@code Tensor.where(mask, a, b)}, each repeated over the result's leading dimensions
 * as eager mode reads it: a parameter {@code [1, T, D]} as b, one {@code [1, 1, D]} as a, a and b both parameters (the
 * mask a value), a buffer as the mask itself, and a buffer's comparison as the mask of a parameter; each parameter's
 * gradient the incoming one where its branch was taken, summed over the batch as eager mode sums it. A parameter and a
 * mask {@code [T, 1]}, stretched along the last dimension, eager mode expands to the result's shape first, and so does
 * the compiled code (the expand's passes each way).
 */
@Model(input = {6, 8})
public class WhereFieldOperands extends Module {
  final Tensor lead = registerParameter("lead", Tensor.randn(1, 6, 8).requiresGrad(true));
  final Tensor row = registerParameter("row", Tensor.randn(1, 1, 8).requiresGrad(true));
  final Tensor fill = registerParameter("fill", Tensor.randn(6, 8).requiresGrad(true));
  final Tensor keep = registerBuffer("keep", Tensor.ones(6, 8).tril());
  final Tensor column = registerParameter("column", Tensor.randn(6, 1).requiresGrad(true));
  final Tensor rows = registerBuffer("rows", Tensor.ones(2, 3).tril().view(6, 1));
  final Linear fc1 = new Linear(8, 8);
  final Linear head = new Linear(6 * 8, 3);

  @Override
  public Tensor forward(Tensor x) {
    Tensor h = fc1.apply(x);                              // [N, 6, 8]
    Tensor g = Tensor.where(h.gt(0), h, lead);            // b a parameter [1, 6, 8]
    g = Tensor.where(g.lt(0.5f), row, g);                 // a a parameter [1, 1, 8]
    Tensor both = Tensor.where(h.gt(0.2f), fill, lead);   // a and b parameters
    g = Tensor.where(keep, g.add(both), h.mul(0.5));      // the mask a buffer [6, 8]
    g = Tensor.where(keep.eq(0), fill, g);                // the mask compared from a buffer, a a parameter
    g = Tensor.where(g.gt(0.1f), g, column);              // b a parameter [6, 1], expanded first as eager expands it
    g = Tensor.where(rows, g, h);                         // the mask a buffer [6, 1], expanded
    return head.apply(flatten(g));
  }
}
