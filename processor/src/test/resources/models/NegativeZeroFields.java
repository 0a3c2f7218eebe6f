package test;

import dev.kiln.dsl.Linear;
import dev.kiln.dsl.Model;
import dev.kiln.dsl.Module;
import dev.kiln.runtime.Tensor;

/**
 * Parameters subtracted from a value of which forward reads only the first half of the last dimension: the other half's
 * gradient is +0 everywhere, so each field's gradient there is {@code -(+0)}, a -0, as eager's: a whole field, a
 * contiguous slice ({@code a[1:7]}) and a strided one ({@code b[:, 2:10]}).
 */
@Model(input = {6, 8})
public class NegativeZeroFields extends Module {
  final Tensor a = registerParameter("a", Tensor.randn(8, 8).requiresGrad(true));
  final Tensor b = registerParameter("b", Tensor.randn(6, 10).requiresGrad(true));
  final Tensor c = registerParameter("c", Tensor.randn(6, 8).requiresGrad(true));
  final Linear head = new Linear(24, 3);

  @Override
  public Tensor forward(Tensor x) {
    Tensor h = x.sub(a.narrow(0, 1, 6)).sub(b.narrow(1, 2, 8)).sub(c);
    return head.apply(h.narrow(2, 0, 4).flatten(1, 2));
  }
}
