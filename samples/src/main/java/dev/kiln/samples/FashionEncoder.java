package dev.kiln.samples;

import static dev.kiln.dsl.F.flatten;

import dev.kiln.dsl.Init;
import dev.kiln.dsl.LayerNorm;
import dev.kiln.dsl.Linear;
import dev.kiln.dsl.Model;
import dev.kiln.dsl.Module;
import dev.kiln.dsl.TransformerEncoder;
import dev.kiln.dsl.TransformerEncoderLayer;
import dev.kiln.runtime.Tensor;

/**
 * {@link FashionTransformer}'s network written with PyTorch's layers instead of by hand: each image is 28 tokens of 28
 * pixels embedded to 64 values with a learned position table, then {@code nn.TransformerEncoder} of one pre-norm layer
 * (4 heads, a GELU feed-forward part of width 128, no dropout) and a final LayerNorm, then a Linear from all 28 tokens to
 * the 10 classes. The annotation processor compiles the encoder into the steps FashionTransformer writes by hand
 * ({@code KilnFashionEncoder}); its parameters keep PyTorch's names ({@code encoder.layers.0.self_attn.in_proj_weight}).
 */
@Model(input = {1, 28, 28})
public class FashionEncoder extends Module {
  static final int TOKENS = 28;
  static final int D = 64;

  final Linear embed = new Linear(28, D);
  final Tensor pos = registerParameter("pos", Tensor.zeros(1, TOKENS, D).requiresGrad(true));   // [1, 28, 64]
  final TransformerEncoder encoder = new TransformerEncoder(
      new TransformerEncoderLayer(D, 4, 2 * D, 0.0, "gelu", 1e-5, true, true), 1, new LayerNorm(D));
  final Linear head = new Linear(TOKENS * D, 10);

  public FashionEncoder() {
    Init.normal(pos, 0, 0.02); // ViT's initialisation, from Kiln's seeded generator
  }

  @Override
  public Tensor forward(Tensor x) {
    x = embed.apply(x.view(-1, TOKENS, 28)).add(pos);                        // [N, 28, 64]
    return head.apply(flatten(encoder.apply(x)));
  }
}
