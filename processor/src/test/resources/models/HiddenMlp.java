package test;

import static dev.kiln.dsl.F.relu;

import dev.kiln.dsl.Linear;
import dev.kiln.dsl.Model;
import dev.kiln.dsl.Module;
import dev.kiln.runtime.Tensor;

/** The tutorials' network that returns its hidden activation beside its output. */
@Model(input = {6})
public class HiddenMlp extends Module {
  final Linear fc1 = new Linear(6, 8);
  final Linear fc2 = new Linear(8, 3);

  /** The network's output and the activation of its hidden layer. */
  public record Outputs(Tensor output, Tensor hidden) {}

  public Outputs forwardWithHidden(Tensor x) {
    Tensor hidden = relu(fc1.apply(x));
    return new Outputs(fc2.apply(hidden), hidden);
  }

  @Override
  public Tensor forward(Tensor x) {
    return forwardWithHidden(x).output();
  }
}
