package test;

import static dev.kiln.dsl.F.flatten;

import dev.kiln.dsl.LayerNorm;
import dev.kiln.dsl.Linear;
import dev.kiln.dsl.Model;
import dev.kiln.dsl.Module;
import dev.kiln.dsl.TransformerEncoder;
import dev.kiln.dsl.TransformerEncoderLayer;
import dev.kiln.runtime.Tensor;

/**
 * nn.TransformerEncoder with PyTorch's default dropout 0.1: on the attention weights (in training of each self_attn), after
 * the attention, inside and after the feed-forward part; none in evaluation. A final LayerNorm.
 */
@Model(input = {6, 8})
public class DropoutEncoder extends Module {
  final TransformerEncoder enc = new TransformerEncoder(
      new TransformerEncoderLayer(8, 2, 16, 0.1, "gelu", 1e-5, true, false), 2, new LayerNorm(8));
  final Linear head = new Linear(48, 3);

  @Override
  public Tensor forward(Tensor x) {
    return head.apply(flatten(enc.apply(x)));
  }
}
