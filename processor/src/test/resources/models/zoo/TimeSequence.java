package test;

import dev.kiln.dsl.LSTM;
import dev.kiln.dsl.Linear;
import dev.kiln.dsl.Model;
import dev.kiln.dsl.Module;
import dev.kiln.runtime.Tensor;

/**
 * time_sequence_prediction's Sequence over its input (future = 0) as a compiled model: PyTorch's two LSTMCells stepped
 * over the same 12 samples are two one-layer LSTMs over the sequence, the linear read-out at every step; [N, 12] to
 * [N, 12]. The weights are TimeSequenceCells' (lstm1.weight_ih is lstm1.weight_ih_l0 here); predicting the future,
 * each prediction fed back, runs there, eagerly.
 */
@Model(input = {12})
public class TimeSequence extends Module {
  static final int HIDDEN = 16;

  final LSTM lstm1 = new LSTM(1, HIDDEN).batchFirst(true);
  final LSTM lstm2 = new LSTM(HIDDEN, HIDDEN).batchFirst(true);
  final Linear linear = new Linear(HIDDEN, 1);

  @Override
  public Tensor forward(Tensor input) {
    Tensor hT = lstm1.apply(input.unsqueeze(2)); // [N, 12, 1] -> every step's h_t [N, 12, 16]
    Tensor hT2 = lstm2.apply(hT);                // h_t2 [N, 12, 16]
    return linear.apply(hT2).squeeze(2);         // each step's output, [N, 12]
  }
}
