package test;

import dev.kiln.dsl.GRU;
import dev.kiln.dsl.Linear;
import dev.kiln.dsl.Model;
import dev.kiln.dsl.Module;
import dev.kiln.runtime.Tensor;

/**
 * PyTorch's seq2seq tutorial's shape: a two-layer GRU encoder, its last hidden states h_n starting a two-layer GRU
 * decoder ({@code _, h = self.encoder(x); out, _ = self.decoder(y, h)}), here over the sequence reversed, its every
 * step into a linear head; the loss reaches the encoder through h_n alone.
 */
@Model(input = {6, 5})
public class Seq2SeqGru extends Module {
  final GRU encoder = new GRU(5, 8).numLayers(2).batchFirst(true);
  final GRU decoder = new GRU(5, 8).numLayers(2).batchFirst(true);
  final Linear head = new Linear(8, 3);

  @Override
  public Tensor forward(Tensor x) {
    var enc = encoder.forwardWithState(x);                            // h_n [2, N, 8]
    Tensor out = decoder.forwardWithState(x.flip(1), enc.h()).output(); // [N, 6, 8]
    return head.apply(out.select(1, -1));
  }
}
