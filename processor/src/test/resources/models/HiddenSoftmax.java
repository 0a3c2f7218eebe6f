package test;

import static dev.kiln.dsl.F.softmax;

import dev.kiln.dsl.Linear;
import dev.kiln.dsl.Model;
import dev.kiln.dsl.Module;
import dev.kiln.runtime.Tensor;

/** Several outputs, one of them a softmax of a hidden layer (along dimension 1), and a softmax along the batch. */
@Model(input = {4})
public class HiddenSoftmax extends Module {
  final Linear fc1 = new Linear(4, 6);
  final Linear fc2 = new Linear(6, 2);

  record Outputs(Tensor output, Tensor hidden) {}

  Outputs forwardWithHidden(Tensor x) {
    Tensor hidden = softmax(fc1.apply(x), 1);
    return new Outputs(fc2.apply(softmax(hidden, 0)), hidden);
  }

  @Override
  public Tensor forward(Tensor x) {
    return forwardWithHidden(x).output();
  }
}
