package test;

import static dev.kiln.dsl.F.gelu;

import dev.kiln.dsl.GELU;
import dev.kiln.dsl.Linear;
import dev.kiln.dsl.Model;
import dev.kiln.dsl.Module;
import dev.kiln.runtime.Tensor;

/**
 * GELU's tanh approximation (GPT-2's) as a layer and as a function with a constant argument, beside the exact form: each
 * compiles as the exact GELU does, its slope kept by the forward.
 */
@Model(input = {6})
public class GeluTanhMlp extends Module {
  static final String APPROXIMATE = "tanh";

  final Linear fc1 = new Linear(6, 8);
  final GELU act = new GELU("tanh");
  final Linear fc2 = new Linear(8, 8);
  final Linear fc3 = new Linear(8, 8);
  final GELU exact = new GELU("none");
  final Linear fc4 = new Linear(8, 3);

  @Override
  public Tensor forward(Tensor x) {
    Tensor h = gelu(fc2.apply(act.apply(fc1.apply(x))), APPROXIMATE);
    return fc4.apply(exact.apply(fc3.apply(h)));
  }
}
