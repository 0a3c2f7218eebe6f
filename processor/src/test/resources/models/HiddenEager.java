package test;

import static dev.kiln.dsl.F.softmax;

import dev.kiln.dsl.Linear;
import dev.kiln.dsl.Model;
import dev.kiln.dsl.Module;
import dev.kiln.runtime.Tensor;

/** Several outputs of a model with a layer that has no fused kernel: checked, run by eager steps. */
@Model(input = {4})
public class HiddenEager extends Module {
  final Linear fc1 = new Linear(4, 6);
  final Linear fc2 = new Linear(6, 2);

  record Outputs(Tensor output, Tensor hidden) {}

  Outputs forwardWithHidden(Tensor x) {
    Tensor hidden = softmax(fc1.apply(x), 1);
    return new Outputs(fc2.apply(hidden), hidden);
  }

  @Override
  public Tensor forward(Tensor x) {
    return forwardWithHidden(x).output();
  }
}
