package test;

import static dev.kiln.dsl.F.flatten;
import static dev.kiln.dsl.F.relu;

import dev.kiln.dsl.Linear;
import dev.kiln.dsl.Model;
import dev.kiln.dsl.Module;
import dev.kiln.runtime.Tensor;

@Model(input = {1, 28, 28})
public class Mlp extends Module {
  static final int HIDDEN = 512;
  final Linear fc1 = new Linear(28 * 28, HIDDEN);
  final Linear fc2 = new Linear(HIDDEN, HIDDEN);
  final Linear fc3 = new Linear(HIDDEN, 10);

  @Override
  public Tensor forward(Tensor x) {
    x = flatten(x);
    x = relu(fc1.apply(x));
    x = relu(fc2.apply(x));
    return fc3.apply(x);
  }
}
