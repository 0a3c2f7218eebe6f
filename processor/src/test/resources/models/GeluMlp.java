package test;

import static dev.kiln.dsl.F.gelu;

import dev.kiln.dsl.GELU;
import dev.kiln.dsl.Linear;
import dev.kiln.dsl.Model;
import dev.kiln.dsl.Module;
import dev.kiln.runtime.Tensor;

/** An MLP with GELU activations, a layer and a function: both compile as the other activations. */
@Model(input = {6})
public class GeluMlp extends Module {
  final Linear fc1 = new Linear(6, 8);
  final GELU act = new GELU();
  final Linear fc2 = new Linear(8, 8);
  final Linear fc3 = new Linear(8, 3);

  @Override
  public Tensor forward(Tensor x) {
    return fc3.apply(gelu(fc2.apply(act.apply(fc1.apply(x)))));
  }
}
