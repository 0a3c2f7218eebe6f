package test;

import static dev.kiln.dsl.F.flatten;

import dev.kiln.dsl.F;
import dev.kiln.dsl.Input;
import dev.kiln.dsl.LayerNorm;
import dev.kiln.dsl.Linear;
import dev.kiln.dsl.Model;
import dev.kiln.dsl.Module;
import dev.kiln.dsl.TransformerDecoder;
import dev.kiln.dsl.TransformerDecoderLayer;
import dev.kiln.dsl.TransformerEncoder;
import dev.kiln.dsl.TransformerEncoderLayer;
import dev.kiln.runtime.Tensor;

/**
 * PyTorch's encoder-decoder: a two-layer {@code nn.TransformerDecoder} (post-norm, a final norm) over an encoder's memory,
 * the target masked causally ({@code dec(tgt, memory, tgt_mask=causal)}, the mask a buffer of 0 and -inf), then a
 * pre-norm GELU decoder layer without masks. Forward makes the memory of 3 from pairs of tokens; {@code forwardPair} takes
 * the source as a further input of 4 tokens.
 */
@Model(input = {6, 8})
public class EncoderDecoder extends Module {
  static final int T = 6;

  final Tensor causal = registerBuffer("causal", F.attentionMask(Tensor.ones(T, T).triu(1)));
  final Linear pairs = new Linear(16, 8);
  final TransformerEncoder enc = new TransformerEncoder(
      new TransformerEncoderLayer(8, 2, 16, 0.0, "relu", 1e-5, true, false), 1);
  final TransformerDecoder dec = new TransformerDecoder(
      new TransformerDecoderLayer(8, 2, 16, 0.0, "relu", 1e-5, true, false), 2, new LayerNorm(8));
  final TransformerDecoderLayer pre = new TransformerDecoderLayer(8, 2, 12, 0.0, "gelu", 1e-5, true, true);
  final Linear head = new Linear(48, 3);

  @Override
  public Tensor forward(Tensor x) {
    Tensor memory = enc.apply(pairs.apply(x.view(-1, 3, 16)));       // [N, 3, 8]
    Tensor h = dec.forward(x, memory, causal, null, null, null);
    h = pre.forward(h, memory);
    return head.apply(flatten(h));
  }

  public Tensor forwardPair(Tensor tgt, @Input({4, 8}) Tensor src) {
    Tensor memory = enc.apply(src);
    return head.apply(flatten(dec.forward(tgt, memory, causal, null, null, null)));
  }
}
