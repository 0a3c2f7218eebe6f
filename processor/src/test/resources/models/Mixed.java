package test;

import static dev.kiln.dsl.F.relu;

import dev.kiln.dsl.Flatten;
import dev.kiln.dsl.Linear;
import dev.kiln.dsl.Model;
import dev.kiln.dsl.Module;
import dev.kiln.dsl.ReLU;
import dev.kiln.dsl.Sequential;
import dev.kiln.runtime.Tensor;

/** Exercises every supported construct: nested named Sequential, bias=false, standalone ReLU, this.field. */
@Model(input = {2, 3, 4})
public class Mixed extends Module {
  final Sequential features = Sequential.builder()
      .add("flat", new Flatten())
      .add("fc", new Linear(24, 16, false))
      .add("act", new ReLU())
      .build();
  final Linear head = new Linear(16, 5);

  @Override
  public Tensor forward(Tensor input) {
    Tensor h = relu(input);
    h = this.features.apply(h);
    return head.forward(h);
  }
}
