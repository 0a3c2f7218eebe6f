package test;

import static dev.kiln.dsl.F.flatten;

import dev.kiln.dsl.LayerNorm;
import dev.kiln.dsl.Linear;
import dev.kiln.dsl.Model;
import dev.kiln.dsl.Module;
import dev.kiln.dsl.MultiheadAttention;
import dev.kiln.runtime.Tensor;

/**
 * nn.MultiheadAttention as cross-attention: the 6 tokens attend to a memory of 3 (pairs of tokens projected), {@code
 * attn(h, mem, mem, attn_mask=bias)} with a float [L, S] mask held by the model; then a layer without biases whose
 * query, key and value are three different values. Each input is projected by its rows of in_proj_weight.
 */
@Model(input = {6, 8})
public class CrossAttention extends Module {
  final Tensor bias = registerBuffer("bias", Tensor.randn(6, 3));
  final LayerNorm norm = new LayerNorm(8);
  final Linear memory = new Linear(16, 8);
  final MultiheadAttention attn = new MultiheadAttention(8, 2, 0.0, true, true);
  final MultiheadAttention mixed = new MultiheadAttention(8, 4, 0.0, false, true);
  final Linear head = new Linear(48, 3);

  @Override
  public Tensor forward(Tensor x) {
    Tensor h = norm.apply(x);
    Tensor mem = memory.apply(x.view(-1, 3, 16));                      // [N, 3, 8]
    x = x.add(attn.forward(h, mem, mem, null, false, bias).output());
    x = x.add(mixed.forward(h, x, x.mul(0.5f)).output());
    return head.apply(flatten(x));
  }
}
