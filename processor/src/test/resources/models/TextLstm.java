package test;

import dev.kiln.dsl.Embedding;
import dev.kiln.dsl.LSTM;
import dev.kiln.dsl.Linear;
import dev.kiln.dsl.Model;
import dev.kiln.dsl.Module;
import dev.kiln.runtime.Tensor;

/**
 * The classic text classifier: token ids, an embedding, a two-layer LSTM (dropout between its layers
 * in training), the last step's hidden state, a linear head; PyTorch's {@code out[:, -1, :]}.
 */
@Model(input = {6})
public class TextLstm extends Module {
  static final int V = 11;
  static final int S = 6;
  static final int D = 8;
  static final int H = 12;

  final Embedding tok = new Embedding(V, D, 0);
  final LSTM lstm = new LSTM(D, H).numLayers(2).dropout(0.25).batchFirst(true);
  final Linear head = new Linear(H, 3);

  @Override
  public Tensor forward(Tensor ids) {
    Tensor out = lstm.apply(tok.apply(ids));   // [N, S] ids -> [N, S, D] -> [N, S, H]
    return head.apply(out.select(1, -1));      // the last step: [N, H]
  }
}
