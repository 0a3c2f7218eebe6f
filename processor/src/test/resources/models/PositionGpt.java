package test;

import static dev.kiln.dsl.F.flatten;
import static dev.kiln.dsl.F.gelu;

import dev.kiln.dsl.Embedding;
import dev.kiln.dsl.LayerNorm;
import dev.kiln.dsl.Linear;
import dev.kiln.dsl.Model;
import dev.kiln.dsl.Module;
import dev.kiln.runtime.Tensor;
import java.util.stream.IntStream;

/**
 * GPT-2's embeddings: a token table (row 0 the padding token) plus a position table of BLOCK rows looked up at
 * {@code 0..S-1}, ids built in forward as nanoGPT's {@code pos = torch.arange(0, t)}; {@code wpe(pos)} is {@code [S, D]},
 * which the add repeats over the batch. Rows S..BLOCK-1 get no gradient.
 */
@Model(input = {6})
public class PositionGpt extends Module {
  static final int V = 11;
  static final int S = 6;
  static final int BLOCK = 8;
  static final int D = 8;

  final Embedding wte = new Embedding(V, D, 0);
  final Embedding wpe = new Embedding(BLOCK, D);
  final LayerNorm norm = new LayerNorm(D);
  final Linear up = new Linear(D, 2 * D);
  final Linear down = new Linear(2 * D, D);
  final Linear head = new Linear(S * D, 3);

  @Override
  public Tensor forward(Tensor ids) {
    Tensor pos = Tensor.labels(IntStream.range(0, S).toArray());   // [S]: 0, 1, ..., S - 1
    Tensor x = wte.apply(ids).add(wpe.apply(pos));                  // [N, S, D] + [S, D]
    x = x.add(down.apply(gelu(up.apply(norm.apply(x)))));
    return head.apply(flatten(x));
  }
}
