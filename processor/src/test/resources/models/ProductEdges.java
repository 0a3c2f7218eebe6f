package test;

import static dev.kiln.dsl.F.div;
import static dev.kiln.dsl.F.flatten;
import static dev.kiln.dsl.F.matmul;
import static dev.kiln.dsl.F.mul;
import static dev.kiln.dsl.F.relu;
import static dev.kiln.dsl.F.transpose;

import dev.kiln.dsl.Linear;
import dev.kiln.dsl.Model;
import dev.kiln.dsl.Module;
import dev.kiln.runtime.Tensor;

/**
 * Products beside attention's usual shape: a scale that is a final local (Math.sqrt of a constant)
 * before a product, a division after another; a transpose read by a ReLU (a copy, not a GEMM flag);
 * one value read by both products and the transpose, so their gradients add up.
 */
@Model(input = {6, 8})
public class ProductEdges extends Module {
  static final int D = 8;

  final Linear q = new Linear(8, 8);
  final Linear head = new Linear(48, 3);

  @Override
  public Tensor forward(Tensor x) {
    final double scale = 1.0 / Math.sqrt(D);
    Tensor h = q.apply(x);
    Tensor t = transpose(h, 1, 2);
    Tensor s = matmul(mul(h, scale), relu(t));
    return head.apply(flatten(div(matmul(s, h), Math.sqrt(64))));
  }
}
