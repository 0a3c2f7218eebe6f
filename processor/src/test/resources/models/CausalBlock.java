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
 * A GPT-style block: a learned position table added to the tokens, causal self-attention with two
 * heads (the scores masked by a lower-triangular buffer, as nanoGPT's
 * {@code att.masked_fill(self.bias[:, :, :T, :T] == 0, float('-inf'))}), a feed-forward part.
 */
@Model(input = {6, 8})
public class CausalBlock extends Module {
  static final int S = 6;
  static final int D = 8;
  static final int H = 2;
  static final int DH = D / H;

  final Tensor pos = registerParameter("pos", Tensor.zeros(1, S, D).requiresGrad(true));
  final Tensor mask = registerBuffer("mask", Tensor.ones(S, S).tril().view(1, 1, S, S));
  final LayerNorm norm1 = new LayerNorm(D);
  final Linear query = new Linear(D, D);
  final Linear key = new Linear(D, D, false);
  final Linear value = new Linear(D, D);
  final Linear proj = new Linear(D, D);
  final LayerNorm norm2 = new LayerNorm(D);
  final Linear up = new Linear(D, 4 * D);
  final Linear down = new Linear(4 * D, D);
  final Linear head = new Linear(S * D, 3);

  public CausalBlock() {
    Init.normal(pos, 0, 0.02);
  }

  @Override
  public Tensor forward(Tensor x) {
    x = x.add(pos);
    Tensor h = norm1.apply(x);
    Tensor q = query.apply(h).view(-1, S, H, DH).transpose(1, 2);
    Tensor k = key.apply(h).view(-1, S, H, DH).transpose(1, 2);
    Tensor v = value.apply(h).view(-1, S, H, DH).transpose(1, 2);
    Tensor att = q.matmul(k.transpose(-2, -1)).div(Math.sqrt(DH));
    att = att.maskedFill(mask.eq(0), Float.NEGATIVE_INFINITY).softmax(-1);
    Tensor o = att.matmul(v).transpose(1, 2).reshape(-1, S, D);
    x = x.add(proj.apply(o));
    x = x.add(down.apply(gelu(up.apply(norm2.apply(x)))));
    return head.apply(flatten(x));
  }
}
