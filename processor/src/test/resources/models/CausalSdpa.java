package test;

import static dev.kiln.dsl.F.flatten;
import static dev.kiln.dsl.F.scaledDotProductAttention;

import dev.kiln.dsl.LayerNorm;
import dev.kiln.dsl.Linear;
import dev.kiln.dsl.Model;
import dev.kiln.dsl.Module;
import dev.kiln.runtime.Tensor;

/**
 * GPT-style causal self-attention with PyTorch 2's {@code F.scaled_dot_product_attention(q, k, v, is_causal=True)}: the
 * heads by hand, the attention by the function (no mask buffer), its dropout probability a constant (0 here).
 */
@Model(input = {6, 8})
public class CausalSdpa extends Module {
  static final int S = 6;
  static final int D = 8;
  static final int H = 2;
  static final int DH = D / H;
  static final double DROPOUT = 0.0;

  final LayerNorm norm = new LayerNorm(D);
  final Linear query = new Linear(D, D);
  final Linear key = new Linear(D, D, false);
  final Linear value = new Linear(D, D);
  final Linear proj = new Linear(D, D);
  final Linear head = new Linear(S * D, 3);

  @Override
  public Tensor forward(Tensor x) {
    Tensor h = norm.apply(x);
    Tensor q = query.apply(h).view(-1, S, H, DH).transpose(1, 2);
    Tensor k = key.apply(h).view(-1, S, H, DH).transpose(1, 2);
    Tensor v = value.apply(h).view(-1, S, H, DH).transpose(1, 2);
    Tensor o = scaledDotProductAttention(q, k, v, null, DROPOUT, true);
    x = x.add(proj.apply(o.transpose(1, 2).reshape(-1, S, D)));
    return head.apply(flatten(x));
  }
}
