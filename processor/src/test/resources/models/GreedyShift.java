package test;

import dev.kiln.dsl.Embedding;
import dev.kiln.dsl.Linear;
import dev.kiln.dsl.Model;
import dev.kiln.dsl.Module;
import dev.kiln.runtime.Tensor;

/**
 * A greedy decoder's step whose predicted ids are shifted past a start token before the lookup: {@code
 * emb(logits.argmax(-1) + 1)}, and wrapped {@code emb(logits.argmin(-1) * 2 % 6)}; the logits scaled by an int constant
 * ({@code mul(2)} of floats, the float scale) and a size read of them.
 */
@Model(input = {6, 8})
public class GreedyShift extends Module {
  final Linear predict = new Linear(8, 5);
  final Embedding emb = new Embedding(6, 8);   // row 0: the start token
  final Linear head = new Linear(48, 3);

  @Override
  public Tensor forward(Tensor x) {
    Tensor logits = predict.apply(x).mul(2);                               // [N, 6, 5]; mul(2) of floats: a scale
    int s = logits.size(1);
    Tensor h = x.add(emb.apply(logits.argmax(-1).add(1)));                 // ids 1..5
    h = h.add(emb.apply(logits.argmin(-1, true).mul(2).remainder(6).view(-1, 6)));
    return head.apply(h.relu().view(-1, s * 8)).add(logits.mean(1).narrow(1, 0, 3));
  }
}
