package test;

import static dev.kiln.dsl.F.flatten;
import static dev.kiln.dsl.F.gelu;

import dev.kiln.dsl.Init;
import dev.kiln.dsl.LayerNorm;
import dev.kiln.dsl.Linear;
import dev.kiln.dsl.Model;
import dev.kiln.dsl.Module;
import dev.kiln.runtime.Tensor;

/**
 * nanoGPT's block as its code writes it: one fused projection {@code c_attn} of the tokens to queries, keys and
 * values side by side, cut by {@code q, k, v = self.c_attn(x).split(self.n_embd, dim=2)}, causal self-attention
 * with two heads, a feed-forward part. The keys are read before the queries (pieces may be read in any order).
 */
@Model(input = {6, 8})
public class FusedQkvBlock extends Module {
  static final int S = 6;
  static final int D = 8;
  static final int H = 2;
  static final int DH = D / H;

  final Tensor pos = registerParameter("pos", Tensor.zeros(1, S, D).requiresGrad(true));
  final Tensor mask = registerBuffer("mask", Tensor.ones(S, S).tril().view(1, 1, S, S));
  final LayerNorm ln1 = new LayerNorm(D);
  final Linear cAttn = new Linear(D, 3 * D);
  final Linear cProj = new Linear(D, D);
  final LayerNorm ln2 = new LayerNorm(D);
  final Linear cFc = new Linear(D, 4 * D);
  final Linear mlpProj = new Linear(4 * D, D);
  final Linear head = new Linear(S * D, 3);

  public FusedQkvBlock() {
    Init.normal(pos, 0, 0.02);
  }

  @Override
  public Tensor forward(Tensor x) {
    x = x.add(pos);
    Tensor[] qkv = cAttn.apply(ln1.apply(x)).split(D, 2);        // [N, S, 3D] -> three [N, S, D]
    Tensor k = qkv[1].view(-1, S, H, DH).transpose(1, 2);          // [N, H, S, DH]
    Tensor q = qkv[0].view(-1, S, H, DH).transpose(1, 2);
    Tensor v = qkv[2].view(-1, S, H, DH).transpose(1, 2);
    Tensor att = q.matmul(k.transpose(-2, -1)).div(Math.sqrt(DH));
    att = att.maskedFill(mask.eq(0), Float.NEGATIVE_INFINITY).softmax(-1);
    Tensor y = att.matmul(v).transpose(1, 2).reshape(-1, S, D);
    x = x.add(cProj.apply(y));
    x = x.add(mlpProj.apply(gelu(cFc.apply(ln2.apply(x)))));
    return head.apply(flatten(x));
  }
}
