package test;

import static dev.kiln.dsl.F.flatten;
import static dev.kiln.dsl.F.matmul;
import static dev.kiln.dsl.F.relu;

import dev.kiln.dsl.Model;
import dev.kiln.dsl.Module;
import dev.kiln.runtime.Tensor;

/**
 * Products by tensor fields over a batch of sequences: a weight {@code [D, T]} and a bias {@code [T]}
 * by hand ({@code [N, S, D] @ [D, T] + [T]}, ReLU in the add's pass) read straight from the input, a
 * fixed mixing matrix held as a buffer (no gradient) scaled by a constant (the GEMM's alpha), and a
 * plain field ending in requiresGrad(true) on the flattened rows ({@code [N, 24] @ [24, 3]}).
 */
@Model(input = {6, 8})
public class FieldProducts extends Module {
  final Tensor w1 = registerParameter("w1", Tensor.randn(8, 12).mul(0.3).requiresGrad(true));
  final Tensor b1 = registerParameter("b1", Tensor.randn(12).mul(0.1).requiresGrad(true));
  final Tensor mix = registerBuffer("mix", Tensor.randn(12, 4));
  final Tensor head = Tensor.randn(24, 3).mul(0.2).requiresGrad(true);

  @Override
  public Tensor forward(Tensor x) {
    Tensor h = relu(x.matmul(w1).add(b1));        // [N, 6, 8] @ [8, 12] + [12]
    h = matmul(h, mix).mul(0.5);                  // [N, 6, 12] @ [12, 4], a buffer: no gradient
    return flatten(h).matmul(head);               // [N, 24] @ [24, 3]
  }
}
