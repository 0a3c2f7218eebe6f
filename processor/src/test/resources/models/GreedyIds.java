package test;

import dev.kiln.dsl.Embedding;
import dev.kiln.dsl.Linear;
import dev.kiln.dsl.Model;
import dev.kiln.dsl.Module;
import dev.kiln.runtime.Tensor;

/**
 * A greedy decoder's step: the previous step's prediction ({@code logits.argmax(-1)}, ids of [N, 6]) looked up in an
 * Embedding and its rows added to the values; no gradient flows to the ids (argmax is not differentiable), the table's
 * rows get theirs.
 */
@Model(input = {6, 8})
public class GreedyIds extends Module {
  final Linear predict = new Linear(8, 5);
  final Embedding emb = new Embedding(5, 8);
  final Linear head = new Linear(48, 3);

  @Override
  public Tensor forward(Tensor x) {
    Tensor logits = predict.apply(x);                // [N, 6, 5]
    Tensor h = x.add(emb.apply(logits.argmax(-1)));  // rows of the predicted ids: [N, 6, 8]
    return head.apply(h.relu().flatten(1, 2)).add(logits.mean(1).narrow(1, 0, 3)); // the logits trained too
  }
}
