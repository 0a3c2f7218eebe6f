package test;

import dev.kiln.dsl.Embedding;
import dev.kiln.dsl.Linear;
import dev.kiln.dsl.Model;
import dev.kiln.dsl.Module;
import dev.kiln.runtime.Tensor;

/**
 * GreedyIds with 7 predicted classes looked up in a table of 5 rows: an id of 5 or 6 is out of range at run time.
 */
@Model(input = {6, 8})
public class GreedyIdsOutOfRange extends Module {
  final Linear predict = new Linear(8, 7);
  final Embedding emb = new Embedding(5, 8);
  final Linear head = new Linear(48, 3);

  @Override
  public Tensor forward(Tensor x) {
    Tensor logits = predict.apply(x);                // [N, 6, 7]: ids up to 6, past the table
    Tensor h = x.add(emb.apply(logits.argmax(-1)));  // rows of the predicted ids: [N, 6, 8]
    return head.apply(h.relu().flatten(1, 2)).add(logits.mean(1).narrow(1, 0, 3)); // the logits trained too
  }
}
