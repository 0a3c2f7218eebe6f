package test;

import static dev.kiln.dsl.F.flatten;
import static dev.kiln.dsl.F.relu;

import dev.kiln.dsl.Conv2d;
import dev.kiln.dsl.Linear;
import dev.kiln.dsl.Model;
import dev.kiln.dsl.Module;
import dev.kiln.dsl.ReLU;
import dev.kiln.dsl.Sequential;
import dev.kiln.runtime.Tensor;

/**
 * A field named like the alias another field would get (layer_out beside out), a field named like
 * the locals of a layer applied twice (fc_2 beside fc), and a factory whose children are named
 * like the generated code's locals (out, p).
 */
@Model(input = {2, 6, 6})
public class AwkwardNames2 extends Module {
  final Conv2d out = new Conv2d(2, 2, 2);
  final Linear layer_out = new Linear(50, 8, false);
  final Linear fc = new Linear(8, 8);
  final Linear fc_2 = new Linear(8, 3);
  final Linear Compiled = new Linear(3, 3); // named like types the generated code uses
  final Linear Tensor = new Linear(3, 3);

  @Override
  public Tensor forward(Tensor x) {
    Tensor h = flatten(relu(out.apply(x)));
    h = relu(layer_out.apply(h));
    h = relu(fc.apply(relu(fc.apply(h))));
    return this.Tensor.apply(relu(Compiled.apply(fc_2.apply(h))));
  }

  @Model(input = {4})
  public static Sequential named() {
    return Sequential.builder().add("out", new Linear(4, 3)).add("act", new ReLU()).add("p", new Linear(3, 2)).build();
  }
}
