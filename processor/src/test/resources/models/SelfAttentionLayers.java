package test;

import static dev.kiln.dsl.F.flatten;

import dev.kiln.dsl.LayerNorm;
import dev.kiln.dsl.Linear;
import dev.kiln.dsl.Model;
import dev.kiln.dsl.Module;
import dev.kiln.dsl.MultiheadAttention;
import dev.kiln.runtime.Tensor;

/**
 * nn.MultiheadAttention compiled, in both forms a PyTorch user writes: {@code attn(h, h, h, need_weights=False)[0]} as
 * {@code attn.forward(h, h, h, null, false, null).output()} (with biases), and the layer applied as a module ({@code
 * attn2.apply(x)}, self-attention) without biases, four heads.
 */
@Model(input = {6, 8})
public class SelfAttentionLayers extends Module {
  final LayerNorm norm = new LayerNorm(8);
  final MultiheadAttention attn = new MultiheadAttention(8, 2, 0.0, true, true);
  final MultiheadAttention attn2 = new MultiheadAttention(8, 4, 0.0, false, true);
  final Linear head = new Linear(48, 3);

  @Override
  public Tensor forward(Tensor x) {
    Tensor h = norm.apply(x);
    x = x.add(attn.forward(h, h, h, null, false, null).output());
    x = x.add(attn2.apply(x));
    return head.apply(flatten(x));
  }
}
