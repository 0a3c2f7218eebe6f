package test;

import static dev.kiln.dsl.F.tanh;

import dev.kiln.dsl.LeakyReLU;
import dev.kiln.dsl.Linear;
import dev.kiln.dsl.Model;
import dev.kiln.dsl.Module;
import dev.kiln.dsl.Sequential;
import dev.kiln.dsl.Sigmoid;
import dev.kiln.runtime.Tensor;

/** The tutorial's other activations as layers and as a function: sigmoid, tanh, leaky ReLU, fused. */
@Model(input = {6})
public class Activations extends Module {
  final Sequential body = Sequential.of(new Linear(6, 8), new Sigmoid(), new Linear(8, 8), new LeakyReLU(0.2));
  final Linear head = new Linear(8, 4);

  @Override
  public Tensor forward(Tensor x) {
    return head.apply(tanh(body.apply(x)));
  }
}
