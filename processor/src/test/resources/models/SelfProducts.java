package test;

import dev.kiln.dsl.Linear;
import dev.kiln.dsl.Model;
import dev.kiln.dsl.Module;
import dev.kiln.runtime.Tensor;

/**
 * One value read three times by two products: both operands of {@code h @ h^T} (the transpose folded into the GEMM) and
 * the right of {@code att @ h}; its gradient adds the three in eager's order.
 */
@Model(input = {6, 8})
public class SelfProducts extends Module {
  final Linear q = new Linear(8, 8);
  final Linear head = new Linear(48, 3);

  @Override
  public Tensor forward(Tensor x) {
    Tensor h = q.apply(x);
    Tensor att = h.matmul(h.transpose(1, 2));
    Tensor y = att.matmul(h);
    return head.apply(y.flatten(1, 2));
  }
}
