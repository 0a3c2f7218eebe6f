package test;

import static dev.kiln.dsl.F.dropout;
import static dev.kiln.dsl.F.relu;
import static dev.kiln.dsl.F.tanh;

import dev.kiln.dsl.Dropout;
import dev.kiln.dsl.Linear;
import dev.kiln.dsl.Model;
import dev.kiln.dsl.Module;
import dev.kiln.runtime.Tensor;

/**
 * Conditions on the training mode (PyTorch's {@code self.training}): an auxiliary path in training only, another step
 * in evaluation, a {@code ?:} on the mode in a block (its own mode) and in the model's own method, {@code F.dropout(x,
 * p, isTraining())}, beside a dropout layer (which follows its own mode). The compiled class holds a graph for each
 * mode and runs the one of the call's.
 */
@Model(input = {6})
public class TrainingModes extends Module {
  /** A block halving its output in training: its own mode, which train() and eval() set with the model's. */
  static class Damped extends Module {
    final Linear fc = new Linear(8, 8);

    @Override
    public Tensor forward(Tensor x) {
      Tensor h = fc.apply(x);
      return isTraining() ? h.mul(0.5) : h;
    }
  }

  final Linear fc1 = new Linear(6, 8);
  final Linear aux = new Linear(8, 8);
  final Damped block = new Damped();
  final Dropout drop = new Dropout(0.25);
  final Linear head = new Linear(8, 3);

  @Override
  public Tensor forward(Tensor x) {
    Tensor h = relu(fc1.apply(x));
    if (isTraining()) {
      h = h.add(aux.apply(h)); // an auxiliary path in training only
    } else {
      h = h.mul(2);
    }
    h = drop.apply(block.apply(h));
    return head.apply(dropout(squash(h), 0.1, isTraining())); // F.dropout(h, 0.1, self.training)
  }

  /** The model's own method: tanh in evaluation only. */
  Tensor squash(Tensor h) {
    if (!this.isTraining()) {
      return tanh(h);
    }
    return h;
  }
}
