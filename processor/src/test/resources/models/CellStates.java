package test;

import static dev.kiln.dsl.F.select;

import dev.kiln.dsl.LSTM;
import dev.kiln.dsl.Linear;
import dev.kiln.dsl.Model;
import dev.kiln.dsl.Module;
import dev.kiln.dsl.RNN;
import dev.kiln.runtime.Tensor;
import java.util.List;

/**
 * Last states beyond h_n[-1]: a bidirectional two-layer LSTM's cell state c_n (the last layer's forward
 * direction, and the first layer's reverse one, below the top), its first hidden state h_n[0], and an RNN's
 * last hidden state read in one expression; joined into a linear head.
 */
@Model(input = {6, 4})
public class CellStates extends Module {
  final LSTM lstm = new LSTM(4, 5).numLayers(2).bidirectional(true).batchFirst(true);
  final RNN rnn = new RNN(4, 3).batchFirst(true);
  final Linear head = new Linear(5 + 5 + 5 + 3, 3);

  @Override
  public Tensor forward(Tensor x) {
    var o = lstm.forwardWithState(x);                    // h_n, c_n [4, N, 5]
    Tensor cell = select(o.c(), 0, -2);                  // c_n[-2]: the last layer's forward direction
    Tensor below = o.c().select(0, 1);                   // c_n[1]: the first layer's reverse direction
    Tensor first = o.h().select(0, 0);                   // h_n[0]
    Tensor last = rnn.forwardWithState(x).h().select(0, -1);
    return head.apply(Tensor.cat(List.of(cell, below, first, last), 1));
  }
}
