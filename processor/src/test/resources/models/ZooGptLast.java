package test;

import dev.kiln.dsl.Embedding;
import dev.kiln.dsl.LayerNorm;
import dev.kiln.dsl.Linear;
import dev.kiln.dsl.Model;
import dev.kiln.dsl.Module;
import dev.kiln.runtime.Tensor;
import java.util.stream.IntStream;

/**
 * nanoGPT's inference head ({@code targets is None} in {@code model.py}'s forward): {@code lm_head} over the last
 * position alone, {@code self.lm_head(x[:, [-1], :])} as {@code x.narrow(1, t - 1, 1)}, logits {@code [N, 1, V]}; the
 * blocks between the embeddings and {@code ln_f} are ZooGptBlock's and left out here. wte tied to lm_head.
 */
@Model(input = {ZooGptLast.BLOCK})
public class ZooGptLast extends Module {
  static final int VOCAB = 16;
  static final int BLOCK = 8;
  static final int EMBD = 32;

  final Embedding wte = new Embedding(VOCAB, EMBD);
  final Embedding wpe = new Embedding(BLOCK, EMBD);
  final LayerNorm lnF = new LayerNorm(EMBD);
  final Linear lmHead = new Linear(EMBD, VOCAB, false);

  public ZooGptLast() {
    wte.weight(lmHead.weight());
  }

  @Override
  public Tensor forward(Tensor idx) {
    int t = idx.size(1);
    Tensor pos = Tensor.labels(IntStream.range(0, t).toArray()).to(idx.device());
    Tensor x = lnF.apply(wte.apply(idx).add(wpe.apply(pos)));
    return lmHead.apply(x.narrow(1, t - 1, 1));                  // self.lm_head(x[:, [-1], :])
  }
}
