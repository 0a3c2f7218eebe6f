package test;

import static dev.kiln.dsl.F.flatten;
import static dev.kiln.dsl.F.narrow;
import static dev.kiln.dsl.F.relu;

import dev.kiln.dsl.Linear;
import dev.kiln.dsl.Model;
import dev.kiln.dsl.Module;
import dev.kiln.dsl.RNN;
import dev.kiln.runtime.Tensor;

/**
 * An Elman RNN (tanh) over float sequences read twice: its last three steps flattened into one head,
 * and its last step (relu) into another, summed; the input also feeds a second, ReLU RNN without bias.
 */
@Model(input = {6, 4})
public class SeqRnn extends Module {
  final RNN rnn = new RNN(4, 5).batchFirst(true);
  final RNN relus = new RNN(4, 5, "relu").bias(false).batchFirst(true);
  final Linear tail = new Linear(3 * 5, 3);
  final Linear last = new Linear(5, 3);

  @Override
  public Tensor forward(Tensor x) {
    Tensor out = rnn.apply(x);                                  // [N, 6, 5]
    Tensor h = tail.apply(flatten(narrow(out, 1, -3, 3)));      // the last three steps: [N, 15] -> [N, 3]
    Tensor r = relus.apply(x).add(out);                         // x feeds both RNNs
    return h.add(last.apply(relu(r.select(1, 5))));
  }
}
