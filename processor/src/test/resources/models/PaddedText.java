package test;

import dev.kiln.dsl.Embedding;
import dev.kiln.dsl.Init;
import dev.kiln.dsl.LayerNorm;
import dev.kiln.dsl.Linear;
import dev.kiln.dsl.Model;
import dev.kiln.dsl.Module;
import dev.kiln.runtime.Tensor;

/**
 * A text classifier over padded token ids (PAD = 0): the padding mask made from the ids in forward, as PyTorch code
 * writes {@code pad = (ids == 0)[:, None, None, :]}, keeps every query from the padding, and a second one
 * ({@code (ids == 0).unsqueeze(-1)}) zeroes the padded positions before the mean over the sequence.
 */
@Model(input = {6})
public class PaddedText extends Module {
  static final int V = 11;
  static final int S = 6;
  static final int D = 8;
  static final int H = 2;
  static final int DH = D / H;

  final Embedding tok = new Embedding(V, D, 0);
  final Tensor pos = registerParameter("pos", Tensor.zeros(1, S, D).requiresGrad(true));
  final LayerNorm norm = new LayerNorm(D);
  final Linear query = new Linear(D, D);
  final Linear key = new Linear(D, D, false);
  final Linear value = new Linear(D, D);
  final Linear proj = new Linear(D, D);
  final Linear head = new Linear(D, 3);

  public PaddedText() {
    Init.normal(pos, 0, 0.02);
  }

  @Override
  public Tensor forward(Tensor ids) {
    Tensor pad = ids.eq(0).view(-1, 1, 1, S);                          // [N, 1, 1, S]: true at the padding
    Tensor padRows = ids.eq(0).unsqueeze(-1);                          // [N, S, 1]
    Tensor x = tok.apply(ids).add(pos);                                // [N, S, D]
    Tensor h = norm.apply(x);
    Tensor q = query.apply(h).view(-1, S, H, DH).transpose(1, 2);
    Tensor k = key.apply(h).view(-1, S, H, DH).transpose(1, 2);
    Tensor v = value.apply(h).view(-1, S, H, DH).transpose(1, 2);
    Tensor att = q.matmul(k.transpose(-2, -1)).div(Math.sqrt(DH));
    att = att.maskedFill(pad, Float.NEGATIVE_INFINITY).softmax(-1);     // [N, H, S, S]
    Tensor o = att.matmul(v).transpose(1, 2).reshape(-1, S, D);
    x = x.add(proj.apply(o)).maskedFill(padRows, 0f);
    return head.apply(x.mean(1));
  }
}
