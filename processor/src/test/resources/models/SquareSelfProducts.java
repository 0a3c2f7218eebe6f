package test;

import dev.kiln.dsl.Linear;
import dev.kiln.dsl.Model;
import dev.kiln.dsl.Module;
import dev.kiln.runtime.Tensor;

/**
 * A square value multiplied by itself ({@code h @ h}, no transpose) and read again by a product after it, on the right
 * ({@code a @ h^T}, the transpose folded): the first product's operands' gradients add to the later one's in eager's order.
 */
@Model(input = {6, 6})
public class SquareSelfProducts extends Module {
  final Linear q = new Linear(6, 6);
  final Linear head = new Linear(36, 3);

  @Override
  public Tensor forward(Tensor x) {
    Tensor h = q.apply(x);
    Tensor a = h.matmul(h);
    Tensor y = a.relu().matmul(h.transpose(1, 2));
    return head.apply(y.flatten(1, 2));
  }
}
