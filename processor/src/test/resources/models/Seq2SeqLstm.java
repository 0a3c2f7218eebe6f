package test;

import dev.kiln.dsl.LSTM;
import dev.kiln.dsl.Linear;
import dev.kiln.dsl.Model;
import dev.kiln.dsl.Module;
import dev.kiln.runtime.Tensor;
import java.util.List;

/**
 * An LSTM encoder-decoder passing both states: a bidirectional encoder's h_n and c_n ([2, N, 8]: its two directions)
 * start a two-layer decoder (PyTorch reads them as its two layers' h0 and c0), whose own last states are read too
 * ({@code out, (h, c) = self.decoder(y, (h_n, c_n))}): its last step and its top layer's cell state into the head.
 */
@Model(input = {6, 5})
public class Seq2SeqLstm extends Module {
  final LSTM encoder = new LSTM(5, 8).bidirectional(true).batchFirst(true);
  final LSTM decoder = new LSTM(5, 8).numLayers(2).batchFirst(true);
  final Linear head = new Linear(16, 3);

  @Override
  public Tensor forward(Tensor x) {
    var enc = encoder.forwardWithState(x);
    var dec = decoder.forwardWithState(x, enc.h(), enc.c());
    Tensor last = dec.output().select(1, -1);                       // [N, 8]
    return head.apply(Tensor.cat(List.of(last, dec.c().select(0, -1)), 1));
  }
}
