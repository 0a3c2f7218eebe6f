package test;

import static dev.kiln.dsl.F.flatten;
import static dev.kiln.dsl.F.gelu;

import dev.kiln.dsl.LayerNorm;
import dev.kiln.dsl.Linear;
import dev.kiln.dsl.Model;
import dev.kiln.dsl.Module;
import dev.kiln.runtime.Tensor;

/**
 * A pre-norm transformer block with two heads, written with Tensor methods as PyTorch code is: the
 * heads split by a view and a transpose (copies), the keys' transpose folded into the scores'
 * GEMM, the queries' scale (a constant local, by Math.sqrt) into its alpha; the heads joined back
 * by a permutation and a view.
 */
@Model(input = {6, 8})
public class MultiHeadAttention extends Module {
  static final int S = 6;
  static final int D = 8;
  static final int H = 2;
  static final int DH = D / H;

  final LayerNorm norm1 = new LayerNorm(D);
  final Linear query = new Linear(D, D);
  final Linear key = new Linear(D, D, false); // (a key bias gets a gradient of rounding noise alone: see Attention)
  final Linear value = new Linear(D, D);
  final Linear proj = new Linear(D, D);
  final LayerNorm norm2 = new LayerNorm(D);
  final Linear up = new Linear(D, 4 * D);
  final Linear down = new Linear(4 * D, D);
  final Linear head = new Linear(S * D, 3);

  @Override
  public Tensor forward(Tensor x) {
    final double scale = 1 / Math.sqrt(DH);
    Tensor h = norm1.apply(x);
    Tensor q = query.apply(h).view(-1, S, H, DH).transpose(1, 2);  // [N, H, S, DH]
    Tensor k = key.apply(h).view(-1, S, H, DH).transpose(1, 2);
    Tensor v = value.apply(h).view(-1, S, H, DH).permute(0, 2, 1, 3);
    Tensor att = q.mul(scale).matmul(k.transpose(-2, -1)).softmax(-1);  // [N, H, S, S]
    Tensor o = att.matmul(v).transpose(1, 2).reshape(-1, S, D);
    x = x.add(proj.apply(o));
    x = x.add(down.apply(gelu(up.apply(norm2.apply(x)))));
    return head.apply(flatten(x));
  }
}
