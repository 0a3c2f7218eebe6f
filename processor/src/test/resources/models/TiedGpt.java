package test;

import dev.kiln.dsl.Embedding;
import dev.kiln.dsl.LayerNorm;
import dev.kiln.dsl.Linear;
import dev.kiln.dsl.Model;
import dev.kiln.dsl.Module;
import dev.kiln.runtime.Tensor;

/**
 * nanoGPT's weight tying in small: the head over every position reads the token table's weight ({@code
 * self.transformer.wte.weight = self.lm_head.weight}), so ids {@code [N, S]} give logits {@code [N, S, V]} from one
 * {@code [V, D]} tensor that gathers rows forward and multiplies backward, both gradients added into it.
 */
@Model(input = {6})
public class TiedGpt extends Module {
  static final int V = 11;
  static final int S = 6;
  static final int D = 8;

  final Embedding wte = new Embedding(V, D);
  final Tensor wpe = registerParameter("wpe", Tensor.zeros(1, S, D).requiresGrad(true));
  final LayerNorm lnF = new LayerNorm(D);
  final Linear lmHead = new Linear(D, V, false);

  public TiedGpt() {
    wte.weight(lmHead.weight());                                    // self.transformer.wte.weight = self.lm_head.weight
  }

  @Override
  public Tensor forward(Tensor ids) {
    Tensor x = wte.apply(ids).add(wpe);                            // [N, S] ids -> [N, S, D]
    return lmHead.apply(lnF.apply(x));                             // [N, S, V]
  }
}
