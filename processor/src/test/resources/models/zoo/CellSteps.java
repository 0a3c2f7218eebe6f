package test;

import dev.kiln.dsl.GRUCell;
import dev.kiln.dsl.LSTMCell;
import dev.kiln.dsl.Model;
import dev.kiln.dsl.Module;
import dev.kiln.dsl.RNNCell;
import dev.kiln.dsl.RecurrentCell;
import dev.kiln.runtime.Tensor;
import java.util.ArrayList;
import java.util.List;

/**
 * Cells stepped by hand over a constant number of steps, as PyTorch users write them: an LSTMCell over each step of the
 * input {@code x.select(1, t)} from zero states, a GRUCell over its h, a ReLU RNNCell over that from a zero state given
 * as null, each output kept and joined along time (unsqueeze, cat); [N, 6, 3] to [N, 6, 5].
 */
@Model(input = {6, 3})
public class CellSteps extends Module {
  static final int STEPS = 6;

  final LSTMCell lstm = new LSTMCell(3, 8);
  final GRUCell gru = new GRUCell(8, 8);
  final RNNCell rnn = new RNNCell(8, 5, true, "relu");

  @Override
  public Tensor forward(Tensor x) {
    Tensor h = Tensor.zeros(x.size(0), 8);
    Tensor c = Tensor.zeros(x.size(0), 8);
    Tensor g = Tensor.zeros(x.size(0), 8);
    List<Tensor> outputs = new ArrayList<>();
    for (int t = 0; t < STEPS; t++) {
      RecurrentCell.State s = lstm.step(x.select(1, t), h, c);
      h = s.h();
      c = s.c();
      g = gru.step(h, g);
      outputs.add(rnn.step(g, null).unsqueeze(1));
    }
    return Tensor.cat(outputs, 1);
  }
}
