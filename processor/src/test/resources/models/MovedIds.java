package test;

import dev.kiln.dsl.Embedding;
import dev.kiln.dsl.F;
import dev.kiln.dsl.Linear;
import dev.kiln.dsl.Model;
import dev.kiln.dsl.Module;
import dev.kiln.runtime.Tensor;

/**
 * Ids moved in forward before their lookups (ids [N, 8] of 0..10): reversed, shifted right past a start token (padded
 * with it, then narrowed back to 8), rolled, a window of them, and the shifted ids of the arithmetic padded with a
 * value cast to an id, and ids picked from two by a mask of them; the ids get no gradient, the tables their rows'.
 */
@Model(input = {8})
public class MovedIds extends Module {
  static final int S = 8;
  final Embedding tok = new Embedding(12, 4, 0);
  final Embedding window = new Embedding(11, 4);
  final Linear head = new Linear(S * 4, 3);
  final Linear windowHead = new Linear(4 * 4, 3);

  @Override
  public Tensor forward(Tensor ids) {
    Tensor x = tok.apply(ids);                                                   // [N, 8, 4]
    x = x.add(tok.apply(ids.flip(1)));                                           // reversed
    Tensor shifted = F.pad(ids, new int[] {1, 0}, 11).narrow(1, 0, S);           // shifted right past a start token 11
    x = x.add(tok.apply(shifted));
    x = x.add(tok.apply(ids.roll(3, 1).view(-1, S)));                            // rolled by 3
    x = x.add(tok.apply(F.pad(ids.add(1).narrow(1, 2, 6), new int[] {0, 2}, -0.5f)));   // padded with 0 (-0.5 cast)
    x = x.add(tok.apply(Tensor.where(ids.gt(5), ids, ids.flip(1).add(1))));          // picked by a mask of the ids
    Tensor w = window.apply(ids.narrow(1, 2, 4).flip(-1));                        // [N, 4, 4]
    return head.apply(x.flatten(1, 2)).add(windowHead.apply(w.flatten(1, 2)));
  }
}
