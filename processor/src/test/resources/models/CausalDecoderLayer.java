package test;

import static dev.kiln.dsl.F.flatten;

import dev.kiln.dsl.F;
import dev.kiln.dsl.Linear;
import dev.kiln.dsl.Model;
import dev.kiln.dsl.Module;
import dev.kiln.dsl.TransformerDecoderLayer;
import dev.kiln.runtime.Tensor;

/**
 * One {@code nn.TransformerDecoderLayer} (post-norm) over a memory of 3 made from pairs of tokens, the target masked
 * causally by a held [T, T] buffer: {@code dec(x, memory, tgt_mask=causal)}.
 */
@Model(input = {6, 8})
public class CausalDecoderLayer extends Module {
  final Tensor causal = registerBuffer("causal", F.attentionMask(Tensor.ones(6, 6).triu(1)));
  final Linear pairs = new Linear(16, 8);
  final TransformerDecoderLayer dec = new TransformerDecoderLayer(8, 2, 16, 0.0, "relu", 1e-5, true, false);
  final Linear head = new Linear(48, 3);

  @Override
  public Tensor forward(Tensor x) {
    Tensor memory = pairs.apply(x.view(-1, 3, 16));
    return head.apply(flatten(dec.forward(x, memory, causal, null, null, null)));
  }
}
