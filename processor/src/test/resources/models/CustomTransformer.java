package test;

import static dev.kiln.dsl.F.flatten;

import dev.kiln.dsl.LayerNorm;
import dev.kiln.dsl.Linear;
import dev.kiln.dsl.Model;
import dev.kiln.dsl.Module;
import dev.kiln.dsl.Transformer;
import dev.kiln.dsl.TransformerDecoder;
import dev.kiln.dsl.TransformerDecoderLayer;
import dev.kiln.dsl.TransformerEncoder;
import dev.kiln.dsl.TransformerEncoderLayer;
import dev.kiln.runtime.Tensor;

/**
 * {@code nn.Transformer(custom_encoder=..., custom_decoder=...)} compiled: a pre-norm GELU encoder of one layer with a
 * final norm and a post-norm decoder of two without one (PyTorch adds no norm to a custom stack), dropout 0.1 in the
 * decoder; the source the input itself, the target pairs of its tokens.
 */
@Model(input = {6, 8})
public class CustomTransformer extends Module {
  final Linear pairs = new Linear(16, 8);
  final Transformer transformer = new Transformer(
      new TransformerEncoder(new TransformerEncoderLayer(8, 2, 12, 0.0, "gelu", 1e-5, true, true), 1, new LayerNorm(8)),
      new TransformerDecoder(new TransformerDecoderLayer(8, 2, 16, 0.1, "relu", 1e-5, true, false), 2));
  final Linear head = new Linear(24, 3);

  @Override
  public Tensor forward(Tensor x) {
    return head.apply(flatten(transformer.forward(x, pairs.apply(x.view(-1, 3, 16)))));
  }
}
