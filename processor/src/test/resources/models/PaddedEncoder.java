package test;

import static dev.kiln.dsl.F.flatten;

import dev.kiln.dsl.Input;
import dev.kiln.dsl.Linear;
import dev.kiln.dsl.Model;
import dev.kiln.dsl.Module;
import dev.kiln.dsl.MultiheadAttention;
import dev.kiln.dsl.TransformerEncoder;
import dev.kiln.dsl.TransformerEncoderLayer;
import dev.kiln.runtime.Tensor;

/**
 * Key padding masks of each sample, a further input: {@code enc(x, src_key_padding_mask=pad)} and {@code attn(x, x, x,
 * key_padding_mask=pad)}, the mask float (0 where a key may be attended, -inf where not, as {@code F.attentionMask}
 * makes it; any float is added). Forward, without a mask, is the encoder alone.
 */
@Model(input = {6, 8})
public class PaddedEncoder extends Module {
  final TransformerEncoder enc = new TransformerEncoder(
      new TransformerEncoderLayer(8, 2, 16, 0.0, "relu", 1e-5, true, false), 2);
  final MultiheadAttention attn = new MultiheadAttention(8, 2, 0.0, true, true);
  final Linear head = new Linear(48, 3);

  public Tensor forwardPadded(Tensor x, @Input({6}) Tensor pad) {
    x = enc.forward(x, null, pad);
    x = x.add(attn.forward(x, x, x, pad, false, null).output());
    return head.apply(flatten(x));
  }

  @Override
  public Tensor forward(Tensor x) {
    return head.apply(flatten(enc.apply(x)));
  }
}
