package test;

import static dev.kiln.dsl.F.flatten;

import dev.kiln.dsl.F;
import dev.kiln.dsl.Input;
import dev.kiln.dsl.Linear;
import dev.kiln.dsl.Model;
import dev.kiln.dsl.Module;
import dev.kiln.dsl.MultiheadAttention;
import dev.kiln.dsl.Transformer;
import dev.kiln.runtime.Tensor;

/**
 * An {@code attn_mask} with the keys MultiheadAttention appends, each mask padded with a zero column per key as PyTorch
 * 1.13's {@code F.pad(attn_mask, (0, 1))}: {@code cross} ({@code add_bias_kv}, {@code kdim=12}) with a held {@code
 * memory_mask [6, 3]} (0/-inf), {@code both} ({@code add_bias_kv} and {@code add_zero_attn}, dropout 0.1) with a held float
 * mask of any values {@code [6, 6]}, {@code zero} ({@code add_zero_attn}) with the causal mask written in the call. {@code
 * forwardPadded} gives the key padding masks too.
 */
@Model(input = {6, 8})
public class MaskedExtraKeys extends Module {
  final Tensor memoryMask = registerBuffer("memory_mask", F.attentionMask(Tensor.ones(6, 3).triu(1)));
  final Tensor scoresBias = registerBuffer("scores_bias", Tensor.randn(6, 6));
  final Linear keys = new Linear(16, 12);
  final Linear values = new Linear(16, 8);
  final MultiheadAttention cross = new MultiheadAttention(8, 2, 0.0, true, true, false, 12, 8, true);
  final MultiheadAttention both = new MultiheadAttention(8, 2, 0.1, true, true, true, 8, 8, true);
  final MultiheadAttention zero = new MultiheadAttention(8, 2, 0.0, true, false, true, 8, 8, true);
  final Linear head = new Linear(48, 3);

  @Override
  public Tensor forward(Tensor x) {
    Tensor pairs = x.view(-1, 3, 16);
    Tensor h = x.add(cross.forward(x, keys.apply(pairs), values.apply(pairs), null, false, memoryMask).output());
    h = h.add(both.forward(h, h, h, null, false, scoresBias).output());
    h = h.add(zero.forward(h, h, h, null, false, Transformer.generateSquareSubsequentMask(6)).output());
    return head.apply(flatten(h));
  }

  public Tensor forwardPadded(Tensor x, @Input({6}) Tensor pad, @Input({3}) Tensor memoryPad) {
    Tensor pairs = x.view(-1, 3, 16);
    Tensor h = x.add(cross.forward(x, keys.apply(pairs), values.apply(pairs), memoryPad, false, memoryMask).output());
    h = h.add(both.forward(h, h, h, pad, false, scoresBias).output());
    h = h.add(zero.forward(h, h, h, pad, false,
        Transformer.generateSquareSubsequentMask(x.size(1)).to(x.device())).output());
    return head.apply(flatten(h));
  }
}
