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
 * Two nn.TransformerEncoders of two layers each, compiled: post-norm with ReLU, then pre-norm (norm_first) with GELU and
 * a final LayerNorm, as {@code enc(x)} and {@code enc(x, mask=None, src_key_padding_mask=None)}.
 */
@Model(input = {6, 8})
public class EncoderStacks extends Module {
  final TransformerEncoder post = new TransformerEncoder(
      new TransformerEncoderLayer(8, 2, 16, 0.0, "relu", 1e-5, true, false), 2);
  final TransformerEncoder pre = new TransformerEncoder(
      new TransformerEncoderLayer(8, 2, 16, 0.0, "gelu", 1e-5, true, true), 2, new LayerNorm(8));
  final Linear head = new Linear(48, 3);

  @Override
  public Tensor forward(Tensor x) {
    x = post.apply(x);
    x = pre.forward(x, null, null);
    return head.apply(flatten(x));
  }
}
