package dev.kiln.samples;

import dev.kiln.dsl.LSTM;
import dev.kiln.dsl.Linear;
import dev.kiln.dsl.Model;
import dev.kiln.dsl.Module;
import dev.kiln.runtime.Tensor;

/**
 * The sequence classifier {@code bench --model lstm} times, as samples/peer/pytorch_lstm_peer.py: an
 * LSTM(64, 128, batch first) over {@code [B, 50, 64]}, its last step's output ({@code out[:, -1]}) into
 * Linear(128, 10). Compiled as {@code KilnSequenceClassifier}.
 */
@Model(input = {50, 64})
public class SequenceClassifier extends Module {
  final LSTM lstm = new LSTM(64, 128).batchFirst(true);
  final Linear head = new Linear(128, 10);

  @Override
  public Tensor forward(Tensor x) {
    Tensor out = lstm.apply(x);
    return head.apply(out.select(1, -1));
  }
}
