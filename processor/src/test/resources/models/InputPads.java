package test;

import static dev.kiln.dsl.F.elu;
import static dev.kiln.dsl.F.flatten;
import static dev.kiln.dsl.F.normalize;
import static dev.kiln.dsl.F.pad;

import dev.kiln.dsl.Linear;
import dev.kiln.dsl.Model;
import dev.kiln.dsl.Module;
import dev.kiln.runtime.Tensor;

/** The steps on the model's input itself: a padding with a value (reading and its gradient writing the input's arrays). */
@Model(input = {3, 5})
public class InputPads extends Module {
  final Linear fc = new Linear(28, 3);

  @Override
  public Tensor forward(Tensor x) {
    Tensor h = pad(x, new int[] {1, 1, 0, 1}, -0.5f);                 // [N, 4, 7]
    return fc.apply(flatten(normalize(elu(h), 2, 2, 1e-12)));
  }
}
