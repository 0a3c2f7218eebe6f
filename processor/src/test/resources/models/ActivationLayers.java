package test;

import static dev.kiln.dsl.F.flatten;

import dev.kiln.dsl.ELU;
import dev.kiln.dsl.GELU;
import dev.kiln.dsl.LeakyReLU;
import dev.kiln.dsl.Linear;
import dev.kiln.dsl.Model;
import dev.kiln.dsl.Module;
import dev.kiln.dsl.SiLU;
import dev.kiln.dsl.Transformer;
import dev.kiln.dsl.TransformerDecoderLayer;
import dev.kiln.dsl.TransformerEncoder;
import dev.kiln.dsl.TransformerEncoderLayer;
import dev.kiln.runtime.Tensor;

/**
 * Transformer blocks whose activation is a layer (PyTorch's callable activation), compiled: an encoder layer with
 * {@code nn.GELU(approximate='tanh')} (dropout 0.1), a stack of two post-norm layers with {@code nn.LeakyReLU(0.2)}, a
 * pre-norm decoder layer with {@code nn.SiLU()} attending over the encoder's output, and a Transformer with ELU.
 */
@Model(input = {6, 8})
public class ActivationLayers extends Module {
  final TransformerEncoderLayer gpt = new TransformerEncoderLayer(8, 2, 16, 0.1, new GELU("tanh"), 1e-5, true, false);
  final TransformerEncoder stack = new TransformerEncoder(
      new TransformerEncoderLayer(8, 2, 12, 0.0, new LeakyReLU(0.2), 1e-5, true, false), 2);
  final TransformerDecoderLayer dec = new TransformerDecoderLayer(8, 2, 12, 0.0, new SiLU(), 1e-5, true, true);
  final Transformer transformer = new Transformer(8, 2, 1, 1, 16, 0.0, new ELU(0.5), 1e-5, true, true);
  final Linear head = new Linear(48, 3);

  @Override
  public Tensor forward(Tensor x) {
    Tensor m = stack.apply(gpt.apply(x));
    Tensor y = dec.forward(x, m);
    return head.apply(flatten(transformer.forward(m, y)));
  }
}
