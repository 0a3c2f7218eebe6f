package test;

import static dev.kiln.dsl.F.flatten;
import static dev.kiln.dsl.F.matmul;
import static dev.kiln.dsl.F.relu;

import dev.kiln.dsl.Linear;
import dev.kiln.dsl.Model;
import dev.kiln.dsl.Module;
import dev.kiln.runtime.Tensor;

/**
 * A token-mixing MLP (MLP-Mixer's token mixing): weights on the left of a product, {@code w.matmul(x)}, each
 * multiplying every sample's tokens [S, D] ({@code [H, S] @ [N, S, D] -> [N, H, D]}), back to S tokens and added
 * to x; a fixed mixing buffer on the left (no gradient, {@code F.matmul(fixed, h)}); a weight mixing within groups of
 * tokens ({@code [3, 3] @ [N, 2, 3, 8]}, repeated over the batch and the groups); then a channel-mixing Linear and a head
 * over the flattened tokens.
 */
@Model(input = {6, 8})
public class TokenMixer extends Module {
  final Tensor mixIn = registerParameter("mixIn", Tensor.randn(10, 6).mul(0.3).requiresGrad(true));
  final Tensor mixOut = registerParameter("mixOut", Tensor.randn(6, 10).mul(0.3).requiresGrad(true));
  final Tensor fixed = registerBuffer("fixed", Tensor.randn(6, 6).mul(0.4));
  final Tensor groups = registerParameter("groups", Tensor.randn(3, 3).mul(0.5).requiresGrad(true));
  final Linear channel = new Linear(8, 8);
  final Linear head = new Linear(48, 3);

  @Override
  public Tensor forward(Tensor x) {
    Tensor t = relu(mixIn.matmul(x));             // [10, 6] @ [N, 6, 8] -> [N, 10, 8]
    Tensor h = x.add(mixOut.matmul(t));           // [6, 10] @ [N, 10, 8] -> [N, 6, 8], the residual
    h = matmul(fixed, h);                         // [6, 6] @ [N, 6, 8], a buffer: no gradient
    h = relu(channel.apply(groups.matmul(h.view(-1, 2, 3, 8)).view(-1, 6, 8)));   // [3, 3] @ [N, 2, 3, 8]
    return head.apply(flatten(h));                // [N, 48] -> [N, 3]
  }
}
