package test;

import dev.kiln.dsl.Embedding;
import dev.kiln.dsl.Linear;
import dev.kiln.dsl.Model;
import dev.kiln.dsl.Module;
import dev.kiln.runtime.Tensor;
import java.util.List;

/**
 * Sums of ids (ids [N, 8] of 0..10, 0 the padding), computed as eager mode's in 64 bits: each sample's length (its ids that
 * are not padding, {@code ids.clamp(0, 1).sum(1, true)}, PyTorch's {@code (ids != 0).sum(1)}) looked up in a table of lengths
 * and used to gather the last real token's score, and a total of the ids times 210000 looked up after integer arithmetic
 * (past 2^24, eager's error, only where every id is 10); the ids get no gradient, the tables and layers their own.
 */
@Model(input = {8})
public class SummedIds extends Module {
  final Embedding tok = new Embedding(11, 4, 0);
  final Embedding length = new Embedding(9, 4);
  final Linear score = new Linear(4, 1);
  final Linear head = new Linear(9, 3);

  @Override
  public Tensor forward(Tensor ids) {
    Tensor total = tok.apply(ids.mul(210000).sum(1).remainder(11)); // [N, 4] (past 2^24 only where every id is 10)
    Tensor x = tok.apply(ids);                                   // [N, 8, 4]
    Tensor lengths = ids.clamp(0, 1).sum(1, true);               // [N, 1]
    Tensor byLength = length.apply(lengths).view(-1, 4);         // [N, 4]
    Tensor scores = score.apply(x).view(-1, 8);                  // [N, 8]
    Tensor last = scores.gather(1, lengths.sub(1).clampMin(0));  // [N, 1]: the last real token's score
    return head.apply(Tensor.cat(List.of(x.sum(1), byLength.add(total), last), 1));
  }
}
