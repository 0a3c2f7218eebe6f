package test;

import dev.kiln.dsl.Linear;
import dev.kiln.dsl.Model;
import dev.kiln.dsl.Module;
import dev.kiln.runtime.Tensor;

/**
 * Wheres of tensor fields alone with parameters among them, without a batch as in eager mode: a learned bias kept where
 * a causal buffer allows and a fixed one elsewhere (read by two steps), learned rows broadcast against a learned table
 * (both parameters, b {@code [8]}); the parameters' gradients go back through eager's where backward.
 */
@Model(input = {6, 8})
public class WhereOfParameters extends Module {
  final Tensor keep = registerBuffer("keep", Tensor.ones(6, 8).tril());
  final Tensor floor = registerBuffer("floor", Tensor.ones(6, 8).mul(-0.5));
  final Tensor learned = registerParameter("learned", Tensor.randn(6, 8).requiresGrad(true));
  final Tensor row = registerParameter("row", Tensor.randn(8).requiresGrad(true));
  final Linear fc = new Linear(8, 8);
  final Linear head = new Linear(48, 3);

  @Override
  public Tensor forward(Tensor x) {
    Tensor bias = Tensor.where(keep, learned, floor);              // [6, 8], no batch; learned's gradient where keep
    Tensor h = fc.apply(x).add(bias);
    h = h.mul(Tensor.where(keep.eq(0), row, learned)).sub(bias);   // both parameters
    return head.apply(h.flatten(1, 2));
  }
}
