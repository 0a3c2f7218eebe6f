package test;

import dev.kiln.dsl.LSTM;
import dev.kiln.dsl.Linear;
import dev.kiln.dsl.Model;
import dev.kiln.dsl.Module;
import dev.kiln.runtime.Tensor;

/**
 * PyTorch's most common LSTM classifier: a two-layer LSTM (dropout between its layers in training) over float
 * sequences, its last layer's last hidden state into a linear head; PyTorch's
 * {@code _, (h_n, c_n) = self.lstm(x); return self.fc(h_n[-1])}.
 */
@Model(input = {6, 5})
public class LstmLastState extends Module {
  final LSTM lstm = new LSTM(5, 8).numLayers(2).dropout(0.25).batchFirst(true);
  final Linear fc = new Linear(8, 3);

  @Override
  public Tensor forward(Tensor x) {
    var o = lstm.forwardWithState(x);          // h_n [2, N, 8]
    return fc.apply(o.h().select(0, -1));      // h_n[-1]: [N, 8]
  }
}
