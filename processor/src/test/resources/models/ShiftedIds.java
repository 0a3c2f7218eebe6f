package test;

import dev.kiln.dsl.Embedding;
import dev.kiln.dsl.EmbeddingBag;
import dev.kiln.dsl.Linear;
import dev.kiln.dsl.Model;
import dev.kiln.dsl.Module;
import dev.kiln.runtime.Tensor;

/**
 * Ids computed in forward by integer arithmetic of the input ids (ids [N, 6] of 0..10), each looked up in an Embedding:
 * shifted past a padding row, wrapped by a remainder, scaled and clamped, halved and viewed; the ids get no gradient, the
 * tables their rows'; the shifted ids are also one bag per sample of an EmbeddingBag.
 */
@Model(input = {6})
public class ShiftedIds extends Module {
  static final int V = 11;
  final Embedding tok = new Embedding(V + 1, 4, 0);   // ids + 1: row 0 the padding, never looked up
  final Embedding wrapped = new Embedding(5, 4);
  final Embedding pair = new Embedding(2 * V, 4);
  final EmbeddingBag bag = new EmbeddingBag(V + 1, 4).paddingIdx(0);
  final Linear head = new Linear(24, 3);
  final Linear bagHead = new Linear(4, 3);

  @Override
  public Tensor forward(Tensor ids) {
    Tensor shifted = ids.add(1);
    Tensor x = tok.apply(shifted.view(-1, shifted.size(1)));                      // [N, 6, 4]; a size of computed ids
    x = x.add(wrapped.apply(ids.remainder(5)));                                   // ids % 5
    x = x.add(pair.apply(ids.mul(2).add(1).sub(2).clampMin(0)));                  // (2 ids - 1).clamp(min=0)
    Tensor clamped = ids.sub(3).clamp(0, 4).view(-1, 6);
    x = x.add(wrapped.apply(clamped));
    x = x.add(tok.apply(ids.floorDivide(-2).neg().abs().clampMax(V)));            // |ids // -2|
    return head.apply(x.flatten(1, 2)).add(bagHead.apply(bag.apply(shifted)));   // each sample's shifted ids one bag
  }
}
