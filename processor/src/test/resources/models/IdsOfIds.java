package test;

import dev.kiln.dsl.Embedding;
import dev.kiln.dsl.Linear;
import dev.kiln.dsl.Model;
import dev.kiln.dsl.Module;
import dev.kiln.runtime.Tensor;

/**
 * Ids computed in forward from two values of the batch, both ids (ids [N, 6] of 0..10): a pair id {@code ids * V + ids // 2},
 * a square, a remainder and a floor division by other ids, and every id added to every other of its sample ({@code [N, 6,
 * 1] + [N, 1, 6]}, broadcast as eager's), each looked up in an Embedding; the ids get no gradient, the tables their rows'
 * (none to tok's padding row).
 */
@Model(input = {6})
public class IdsOfIds extends Module {
  static final int V = 11;
  final Embedding pair = new Embedding(V * V, 4);
  final Embedding wrapped = new Embedding(V, 4);
  final Embedding tok = new Embedding(2 * V, 4, 0);   // a sum of 0 (both ids 0): the padding row
  final Linear head = new Linear(24, 3);

  @Override
  public Tensor forward(Tensor ids) {
    Tensor halves = ids.floorDivide(2);
    Tensor x = pair.apply(ids.mul(V).add(halves));                                   // ids * V + ids // 2
    x = x.add(pair.apply(ids.mul(ids)));                                             // ids * ids
    x = x.add(wrapped.apply(ids.remainder(halves.add(1))));                          // ids % (ids // 2 + 1)
    x = x.add(wrapped.apply(ids.sub(ids.floorDivide(ids.remainder(4).add(1)))));     // ids - ids // (ids % 4 + 1)
    Tensor sums = ids.view(-1, 6, 1).add(ids.view(-1, 1, 6));                        // [N, 6, 6]: each id plus each other
    x = x.add(tok.apply(sums).sum(2));                                               // [N, 6, 6, 4] summed to [N, 6, 4]
    return head.apply(x.flatten(1, 2));
  }
}
