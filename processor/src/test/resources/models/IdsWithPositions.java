package test;

import dev.kiln.dsl.Embedding;
import dev.kiln.dsl.Linear;
import dev.kiln.dsl.Model;
import dev.kiln.dsl.Module;
import dev.kiln.runtime.Tensor;
import java.util.stream.IntStream;

/**
 * Input ids combined with ids built in forward, each repeated over the batch as eager's broadcast does: {@code ids * 2 +
 * pos} (a row per id and position), {@code (pos + 1 - ids) % 7} with the positions viewed {@code [1, S]} on the left, and
 * each id wrapped by its own position's divisor.
 */
@Model(input = {6})
public class IdsWithPositions extends Module {
  static final int S = 6;
  static final int V = 11;
  final Embedding tok = new Embedding(V, 4, 0);
  final Embedding pair = new Embedding(2 * V + S, 4);
  final Embedding wrapped = new Embedding(7, 4);
  final Linear head = new Linear(S * 4, 3);

  @Override
  public Tensor forward(Tensor ids) {
    Tensor pos = Tensor.labels(IntStream.range(0, S).toArray());                  // [S]
    Tensor x = tok.apply(ids);                                                    // [N, S, 4]
    x = x.add(pair.apply(ids.mul(2).add(pos)));                                   // ids * 2 + pos
    x = x.add(wrapped.apply(pos.add(1).view(1, S).sub(ids).remainder(7)));        // (pos + 1 - ids) % 7
    x = x.add(wrapped.apply(ids.remainder(Tensor.labels(2, 3, 4, 5, 6, 7))));     // each position its divisor
    return head.apply(x.flatten(1, 2));
  }
}
