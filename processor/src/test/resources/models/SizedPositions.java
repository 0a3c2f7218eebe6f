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
 * GPT-2's embeddings with the sequence length read from the ids, as nanoGPT writes them ({@code b, t = idx.size(); pos =
 * torch.arange(0, t)}), and a model's own method given a size as its constant parameter.
 */
@Model(input = {6})
public class SizedPositions extends Module {
  static final int V = 11;
  static final int BLOCK = 8;
  static final int D = 8;

  final Embedding wte = new Embedding(V, D, 0);
  final Embedding wpe = new Embedding(BLOCK, D);
  final LayerNorm norm = new LayerNorm(D);
  final Linear up = new Linear(D, 2 * D);
  final Linear down = new Linear(2 * D, D);
  final Linear head = new Linear(6 * D, 3);

  @Override
  public Tensor forward(Tensor ids) {
    int t = ids.size(1);
    Tensor pos = Tensor.labels(IntStream.range(0, t).toArray());   // [T]: 0, 1, ..., T - 1
    Tensor x = wte.apply(ids).add(wpe.apply(pos));                  // [N, T, D] + [T, D]
    x = x.add(down.apply(gelu(up.apply(norm.apply(x)))));
    return head.apply(flat(x, x.size(1) * x.size(2)));
  }

  Tensor flat(Tensor h, int values) {
    return h.reshape(h.size(0), values);
  }
}
