package test;

import dev.kiln.dsl.Linear;
import dev.kiln.dsl.Model;
import dev.kiln.dsl.Module;
import dev.kiln.runtime.Tensor;

/**
 * maximum, minimum and atan2 of a tensor field of the model: a learned floor {@code [D]} and a learned ceiling {@code [S, 1]}
 * (ties with the value where it is clamped at them: the gradient halved on a tie), a buffer {@code [1, S, D]}, a field as
 * atan2's first operand (the value second), a slice of a parameter (its gradient into the rows read); the parameters' gradients summed back over the batch as eager mode's expand.
 */
@Model(input = {4, 6})
public class FieldPairs extends Module {
  final Linear fc = new Linear(6, 6);
  final Linear head = new Linear(6, 3);
  final Tensor floor = registerParameter("floor", Tensor.randn(6).mul(0.3f).requiresGrad(true));
  final Tensor ceiling = registerParameter("ceiling", Tensor.randn(4, 1).mul(0.3f).add(0.5f).requiresGrad(true));
  final Tensor angle = registerParameter("angle", Tensor.randn(4, 6).requiresGrad(true));
  final Tensor limit = registerBuffer("limit", Tensor.ones(1, 4, 6).mul(0.8f));
  final Tensor table = registerParameter("table", Tensor.randn(8, 6).requiresGrad(true));

  @Override
  public Tensor forward(Tensor x) {
    Tensor h = fc.apply(x);
    Tensor tied = h.clamp(-0.2f, 0.2f);
    Tensor g = h.maximum(floor).minimum(ceiling).add(tied.maximum(floor)).minimum(limit);
    Tensor a = angle.atan2(h).add(h.atan2(floor)).add(h.minimum(table.narrow(0, 2, 4)));
    return head.apply(g.add(a)).mean(1);
  }
}
