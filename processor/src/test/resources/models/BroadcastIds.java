package test;

import dev.kiln.dsl.Embedding;
import dev.kiln.dsl.Linear;
import dev.kiln.dsl.Model;
import dev.kiln.dsl.Module;
import dev.kiln.runtime.Tensor;

/**
 * Wheres of ids that broadcast and masks compared from moved ids (ids [N, 8] of 0..10): each sample's first id where an id
 * is past 5 ({@code [N, 8]} mask, {@code [N, 1]} b), a rolled id where the first is small ({@code [N, 1]} mask), and the
 * previous token's padding mask ({@code ids.roll(1, 1).eq(0)}) filling and scaling rows; the ids get no gradient, the
 * tables their rows'.
 */
@Model(input = {8})
public class BroadcastIds extends Module {
  final Embedding tok = new Embedding(11, 4, 0);
  final Linear head = new Linear(8 * 4, 3);

  @Override
  public Tensor forward(Tensor ids) {
    Tensor x = tok.apply(ids);                                                               // [N, 8, 4]
    x = x.add(tok.apply(Tensor.where(ids.gt(5), ids.narrow(1, 0, 1), ids)));                 // b [N, 1] repeated
    x = x.add(tok.apply(Tensor.where(ids.narrow(1, 0, 1).lt(3), ids.roll(2, 1), ids.flip(1)))); // the mask [N, 1]
    Tensor previous = ids.roll(1, 1);
    x = x.maskedFill(previous.eq(0).view(-1, 8, 1), 0f);                                     // after a padding token: 0
    x = x.mul(previous.ne(10).view(-1, 8, 1));                                               // after token 10: 0
    return head.apply(x.flatten(1, 2));
  }
}
