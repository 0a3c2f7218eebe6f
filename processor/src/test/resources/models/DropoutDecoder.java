package test;

import static dev.kiln.dsl.F.flatten;

import dev.kiln.dsl.LayerNorm;
import dev.kiln.dsl.Linear;
import dev.kiln.dsl.Model;
import dev.kiln.dsl.Module;
import dev.kiln.dsl.TransformerDecoder;
import dev.kiln.dsl.TransformerDecoderLayer;
import dev.kiln.runtime.Tensor;

/**
 * nn.TransformerDecoder with PyTorch's default dropout 0.1 over a memory of 3 (pairs of tokens projected): on both
 * attentions' weights (in training of self_attn and multihead_attn), after each block (dropout1..3) and inside the
 * feed-forward part, drawn in eager's order; none in evaluation. Pre-norm, a final LayerNorm.
 */
@Model(input = {6, 8})
public class DropoutDecoder extends Module {
  final Linear pairs = new Linear(16, 8);
  final TransformerDecoder dec = new TransformerDecoder(
      new TransformerDecoderLayer(8, 2, 16, 0.1, "relu", 1e-5, true, true), 2, new LayerNorm(8));
  final Linear head = new Linear(48, 3);

  @Override
  public Tensor forward(Tensor x) {
    Tensor memory = pairs.apply(x.view(-1, 3, 16));
    return head.apply(flatten(dec.forward(x, memory)));
  }
}
