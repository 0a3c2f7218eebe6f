package test;

import dev.kiln.dsl.Dropout;
import dev.kiln.dsl.Linear;
import dev.kiln.dsl.Model;
import dev.kiln.dsl.Module;
import dev.kiln.runtime.Tensor;

/**
 * The training mode held in a local ({@code final boolean t = isTraining(); if (t) ...}, in forward and in a block, whose
 * local is its own mode) and another module's mode read in forward ({@code drop.isTraining()}, PyTorch's {@code
 * self.drop.training}): each compiled as a condition on that module's mode.
 */
@Model(input = {6})
public class ModeLocals extends Module {
  static final int D = 8;

  /** A block choosing its activation by its own mode, held in a local. */
  static class Gate extends Module {
    final Linear fc = new Linear(D, D);

    @Override
    public Tensor forward(Tensor x) {
      final boolean training = isTraining();
      Tensor h = fc.apply(x);
      return training ? h.relu() : h.tanh();
    }
  }

  final Linear fc1 = new Linear(6, D);
  final Dropout drop = new Dropout(0.5);
  final Gate gate = new Gate();
  final Linear fc2 = new Linear(D, 3);

  @Override
  public Tensor forward(Tensor x) {
    final boolean t = isTraining();
    Tensor h = fc1.apply(x).relu();
    if (t) {
      h = h.mul(2.0);
    }
    if (drop.isTraining()) {
      h = drop.apply(h);
    } else {
      h = h.add(1.0);
    }
    return fc2.apply(gate.apply(h));
  }
}
