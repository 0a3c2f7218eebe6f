package test;

import dev.kiln.dsl.Embedding;
import dev.kiln.dsl.Linear;
import dev.kiln.dsl.Model;
import dev.kiln.dsl.Module;
import dev.kiln.runtime.Tensor;
import java.util.stream.IntStream;

/**
 * Positions built in forward and computed by integer arithmetic of constants (odd positions {@code pos * 2 + 1}, positions
 * shifted past two reserved rows and viewed {@code [1, S]}): folded at compile time, looked up as GPT-2's positions are.
 */
@Model(input = {6})
public class ShiftedPositions extends Module {
  static final int S = 6;
  final Embedding tok = new Embedding(11, 4, 0);
  final Embedding wpe = new Embedding(2 * S + 2, 4);
  final Linear head = new Linear(S * 4, 3);

  @Override
  public Tensor forward(Tensor ids) {
    Tensor pos = Tensor.labels(IntStream.range(0, S).toArray());              // [S]: 0, 1, ..., S - 1
    Tensor x = tok.apply(ids).add(wpe.apply(pos.mul(2).add(1)));              // rows 1, 3, ..., 11
    x = x.add(wpe.apply(pos.add(2).view(1, S).to(ids.device())));             // rows 2..7, [1, S, 4]
    return head.apply(x.flatten(1, 2));
  }
}
