package test;

import static dev.kiln.dsl.F.flatten;

import dev.kiln.dsl.F;
import dev.kiln.dsl.Linear;
import dev.kiln.dsl.Model;
import dev.kiln.dsl.Module;
import dev.kiln.dsl.MultiheadAttention;
import dev.kiln.dsl.TransformerEncoder;
import dev.kiln.dsl.TransformerEncoderLayer;
import dev.kiln.runtime.Tensor;

/**
 * Causal attention layers with their float masks held by the model, as PyTorch's {@code mask=causal}: a two-layer encoder
 * ({@code enc(x, mask=causal)}) and a MultiheadAttention ({@code attn(x, x, x, attn_mask=causal, need_weights=False)}),
 * the mask a buffer of 0 and -inf made by {@code F.attentionMask}.
 */
@Model(input = {6, 8})
public class MaskedEncoder extends Module {
  static final int S = 6;

  final Tensor causal = registerBuffer("causal", F.attentionMask(Tensor.ones(S, S).triu(1)));
  final TransformerEncoder enc = new TransformerEncoder(
      new TransformerEncoderLayer(8, 2, 16, 0.0, "relu", 1e-5, true, true), 2);
  final MultiheadAttention attn = new MultiheadAttention(8, 2, 0.0, true, true);
  final Linear head = new Linear(48, 3);

  @Override
  public Tensor forward(Tensor x) {
    x = enc.forward(x, causal, null);
    x = x.add(attn.forward(x, x, x, null, false, causal).output());
    return head.apply(flatten(x));
  }
}
