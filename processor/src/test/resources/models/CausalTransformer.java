package test;

import static dev.kiln.dsl.F.flatten;

import dev.kiln.dsl.Linear;
import dev.kiln.dsl.Model;
import dev.kiln.dsl.Module;
import dev.kiln.dsl.Transformer;
import dev.kiln.runtime.Tensor;

/**
 * PyTorch's habit, the causal target mask made where it is passed: {@code transformer(src, tgt,
 * tgt_mask=nn.Transformer.generate_square_subsequent_mask(T))}, here {@code generateSquareSubsequentMask(x.size(1))
 * .to(x.device())}, compiled as the causal fill of the decoder's self-attention scores (no buffer); the memory a pair
 * projection of 3 tokens, dropout 0.1, pre-norm.
 */
@Model(input = {6, 8})
public class CausalTransformer extends Module {
  final Linear pairs = new Linear(16, 8);
  final Transformer transformer = new Transformer(8, 2, 1, 2, 16, 0.1, "gelu", 1e-5, true, true);
  final Linear head = new Linear(48, 3);

  @Override
  public Tensor forward(Tensor x) {
    Tensor src = pairs.apply(x.view(-1, 3, 16));
    return head.apply(flatten(transformer.forward(src, x, null,
        Transformer.generateSquareSubsequentMask(x.size(1)).to(x.device()), null, null, null, null)));
  }
}
