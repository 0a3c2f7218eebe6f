package test;

import static dev.kiln.dsl.F.gelu;
import static dev.kiln.dsl.F.mean;
import static dev.kiln.dsl.F.sub;

import dev.kiln.dsl.Embedding;
import dev.kiln.dsl.Init;
import dev.kiln.dsl.LayerNorm;
import dev.kiln.dsl.Linear;
import dev.kiln.dsl.Model;
import dev.kiln.dsl.Module;
import dev.kiln.runtime.Tensor;

/**
 * A transformer classifier over token ids that pools by the mean over its tokens: TinyGpt's block
 * without a mask, then each token centred on its own mean and divided by its mean square (a layer norm
 * written out), divided by a learned per-position temperature {@code [S, D]}, and {@code mean(x, 1)}
 * ({@code [N, S, D] -> [N, D]}) before the head; a position table subtracted rather than added.
 */
@Model(input = {6})
public class MeanPool extends Module {
  static final int V = 11;
  static final int S = 6;
  static final int D = 8;

  final Embedding tok = new Embedding(V, D, 0);
  final Tensor pos = registerParameter("pos", Tensor.zeros(1, S, D).requiresGrad(true));
  final Tensor temperature = registerParameter("temperature", Tensor.ones(S, D).requiresGrad(true));
  final LayerNorm norm = new LayerNorm(D);
  final Linear query = new Linear(D, D);
  final Linear key = new Linear(D, D, false);
  final Linear value = new Linear(D, D);
  final Linear up = new Linear(D, 2 * D);
  final Linear down = new Linear(2 * D, D);
  final Linear head = new Linear(D, 3);

  public MeanPool() {
    Init.normal(pos, 0, 0.02);
    Init.uniform(temperature, 0.5, 1.5);
  }

  @Override
  public Tensor forward(Tensor ids) {
    Tensor x = tok.apply(ids).sub(pos);                                // [N, S] ids -> [N, S, D]
    Tensor h = norm.apply(x);
    Tensor att = query.apply(h).matmul(key.apply(h).transpose(-2, -1)).div(Math.sqrt(D)).softmax(-1);
    x = x.add(att.matmul(value.apply(h)));
    Tensor centred = sub(x, x.mean(-1, true));                         // [N, S, D] - [N, S, 1]
    Tensor square = centred.mul(centred).mean(2, true).add(1.0);       // [N, S, 1], at least 1
    x = centred.div(square).div(temperature);
    x = x.add(down.apply(gelu(up.apply(x))));
    return head.apply(mean(x, 1).sub(0.25));                           // mean pooling: [N, D]
  }
}
