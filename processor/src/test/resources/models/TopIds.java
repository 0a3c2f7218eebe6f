package test;

import dev.kiln.dsl.Embedding;
import dev.kiln.dsl.Linear;
import dev.kiln.dsl.Model;
import dev.kiln.dsl.Module;
import dev.kiln.runtime.Tensor;
import java.util.List;

/**
 * Ids ranked in forward: the two best classes of each position ({@code logits.topk(2, -1).indices()}, [N, 6, 2]) looked up
 * and their rows summed, and every class in descending order ({@code logits.argsort(-1, true)}, [N, 6, 5]) looked up in a
 * table of ranks; no gradient flows back through the indices, the tables get theirs.
 */
@Model(input = {6, 8})
public class TopIds extends Module {
  final Linear predict = new Linear(8, 5);
  final Embedding emb = new Embedding(5, 8);
  final Embedding rank = new Embedding(5, 2);
  final Linear head = new Linear(108, 3);

  @Override
  public Tensor forward(Tensor x) {
    Tensor logits = predict.apply(x);                                          // [N, 6, 5]
    Tensor best = emb.apply(logits.topk(2, -1).indices()).sum(2);               // [N, 6, 2, 8] summed: [N, 6, 8]
    Tensor order = rank.apply(logits.argsort(-1, true)).flatten(1, 3);          // [N, 6, 5, 2]: [N, 60]
    Tensor h = x.add(best).relu().flatten(1, 2);                                // [N, 48]
    return head.apply(Tensor.cat(List.of(h, order), 1)).add(logits.mean(1).narrow(1, 0, 3)); // the logits trained too
  }
}
