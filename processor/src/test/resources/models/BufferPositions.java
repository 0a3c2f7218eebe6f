package test;

import dev.kiln.dsl.Embedding;
import dev.kiln.dsl.Linear;
import dev.kiln.dsl.Model;
import dev.kiln.dsl.Module;
import dev.kiln.runtime.Tensor;
import java.util.stream.IntStream;

/**
 * Buffers of ids looked up by Embeddings, read at each call as eager mode reads them (a load changes them): Hugging Face's
 * {@code register_buffer("position_ids", torch.arange(T).expand((1, -1)))} as {@code [1, T]}, and a rank-1 buffer of slots;
 * values and every gradient eager mode's bit for bit.
 */
@Model(input = {6})
public class BufferPositions extends Module {
  static final int T = 6;
  final Embedding tok = new Embedding(11, 8, 0);
  final Embedding wpe = new Embedding(10, 8);
  final Embedding order = new Embedding(6, 8);
  final Linear head = new Linear(8, 3);
  final Tensor positionIds = registerBuffer("position_ids", Tensor.labels(IntStream.range(0, T).toArray()).view(1, T));
  final Tensor slots = registerBuffer("slots", Tensor.labels(5, 4, 3, 3, 1, 0));

  @Override
  public Tensor forward(Tensor ids) {
    Tensor h = tok.apply(ids).add(wpe.apply(positionIds)).add(order.apply(this.slots)); // [N, 6, 8]
    return head.apply(h.tanh().sum(1));                                                  // [N, 3]
  }
}
