package test;

import static dev.kiln.dsl.F.relu;

import dev.kiln.dsl.Dropout;
import dev.kiln.dsl.Linear;
import dev.kiln.dsl.Model;
import dev.kiln.dsl.Module;
import dev.kiln.runtime.Tensor;

/** Several outputs as Tensor[]; forward returns the hidden one, the second of three. */
@Model(input = {5})
public class HiddenArray extends Module {
  final Linear fc1 = new Linear(5, 7);
  final Dropout dropout = new Dropout(0.3);
  final Linear fc2 = new Linear(7, 2);

  public Tensor[] all(Tensor x) {
    Tensor h = fc1.apply(x);
    Tensor a = dropout.apply(relu(h));
    return new Tensor[] {fc2.apply(a), h, a};
  }

  @Override
  public Tensor forward(Tensor x) {
    return all(x)[1];
  }
}
