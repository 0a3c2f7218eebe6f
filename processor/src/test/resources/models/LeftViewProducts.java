package test;

import dev.kiln.dsl.Linear;
import dev.kiln.dsl.Model;
import dev.kiln.dsl.Module;
import dev.kiln.runtime.Tensor;

/**
 * A square value multiplied by itself ({@code h @ h}) and read again by a later product on the left, through a view
 * ({@code h^T @ relu(a)}, the transpose folded into the GEMM): eager's in-place product reads {@code h^T} in {@code h}
 * as one node, so {@code h}'s three gradients come in the order of the two products in eager's traversal.
 */
@Model(input = {6, 6})
public class LeftViewProducts extends Module {
  final Linear q = new Linear(6, 6);
  final Linear head = new Linear(36, 3);

  @Override
  public Tensor forward(Tensor x) {
    Tensor h = q.apply(x);
    Tensor a = h.matmul(h);
    Tensor y = h.transpose(1, 2).matmul(a.relu());
    return head.apply(y.flatten(1, 2));
  }
}
