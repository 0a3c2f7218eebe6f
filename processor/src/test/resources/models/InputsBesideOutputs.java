package test;

import static dev.kiln.dsl.F.relu;
import static dev.kiln.dsl.F.sigmoid;

import dev.kiln.dsl.Input;
import dev.kiln.dsl.Linear;
import dev.kiln.dsl.Model;
import dev.kiln.dsl.Module;
import dev.kiln.runtime.Tensor;

/**
 * A method of several outputs (forward returns one of them) beside a method of several inputs: a hidden
 * layer gated by a second input.
 */
@Model(input = {6})
public class InputsBesideOutputs extends Module {
  final Linear fc1 = new Linear(6, 8);
  final Linear fc2 = new Linear(8, 3);

  /** The output and the hidden activation. */
  public record Outputs(Tensor output, Tensor hidden) {}

  public Outputs forwardWithHidden(Tensor x) {
    Tensor hidden = relu(fc1.apply(x));
    return new Outputs(fc2.apply(hidden), hidden);
  }

  public Tensor forwardGated(Tensor x, @Input({8}) Tensor gate) {
    return fc2.apply(relu(fc1.apply(x)).mul(sigmoid(gate)));
  }

  @Override
  public Tensor forward(Tensor x) {
    return forwardWithHidden(x).output();
  }
}
