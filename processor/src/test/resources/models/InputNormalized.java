package test;

import static dev.kiln.dsl.F.hardtanh;
import static dev.kiln.dsl.F.normalize;
import static dev.kiln.dsl.F.softplus;

import dev.kiln.dsl.Linear;
import dev.kiln.dsl.Model;
import dev.kiln.dsl.Module;
import dev.kiln.runtime.Tensor;

/** A normalize of the model's input itself (its backward reading the input's array), then softplus and hardtanh. */
@Model(input = {5})
public class InputNormalized extends Module {
  final Linear fc = new Linear(5, 3);

  @Override
  public Tensor forward(Tensor x) {
    return fc.apply(hardtanh(softplus(normalize(x, 3, 1, 0.5)), -0.5, 0.75));
  }
}
