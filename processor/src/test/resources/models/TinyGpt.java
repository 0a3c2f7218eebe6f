package test;

import static dev.kiln.dsl.F.flatten;
import static dev.kiln.dsl.F.gelu;

import dev.kiln.dsl.Embedding;
import dev.kiln.dsl.Init;
import dev.kiln.dsl.LayerNorm;
import dev.kiln.dsl.Linear;
import dev.kiln.dsl.Model;
import dev.kiln.dsl.Module;
import dev.kiln.runtime.Tensor;

/**
 * A text model over token ids: a token table (row 0 the padding token) plus a learned position
 * table, causal self-attention of one head, a feed-forward part and a head over every position.
 * The input {@code [N, S]} is ids (a label tensor), which the Embedding turns into {@code [N, S, D]}.
 */
@Model(input = {6})
public class TinyGpt extends Module {
  static final int V = 11;
  static final int S = 6;
  static final int D = 8;

  final Embedding tok = new Embedding(V, D, 0);
  final Tensor pos = registerParameter("pos", Tensor.zeros(1, S, D).requiresGrad(true));
  final Tensor mask = registerBuffer("mask", Tensor.ones(S, S).tril());
  final LayerNorm norm = new LayerNorm(D);
  final Linear query = new Linear(D, D);
  final Linear key = new Linear(D, D, false);
  final Linear value = new Linear(D, D);
  final Linear up = new Linear(D, 2 * D);
  final Linear down = new Linear(2 * D, D);
  final Linear head = new Linear(S * D, 3);

  public TinyGpt() {
    Init.normal(pos, 0, 0.02);
  }

  @Override
  public Tensor forward(Tensor ids) {
    Tensor x = tok.apply(ids).add(pos);                           // [N, S] ids -> [N, S, D]
    Tensor h = norm.apply(x);
    Tensor att = query.apply(h).matmul(key.apply(h).transpose(-2, -1)).div(Math.sqrt(D));
    att = att.maskedFill(mask.eq(0), Float.NEGATIVE_INFINITY).softmax(-1);
    x = x.add(att.matmul(value.apply(h)));
    x = x.add(down.apply(gelu(up.apply(x))));
    return head.apply(flatten(x));
  }
}
