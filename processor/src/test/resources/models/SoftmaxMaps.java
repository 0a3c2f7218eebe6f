package test;

import static dev.kiln.dsl.F.softmax;

import dev.kiln.dsl.Conv2d;
import dev.kiln.dsl.Flatten;
import dev.kiln.dsl.Linear;
import dev.kiln.dsl.Model;
import dev.kiln.dsl.Module;
import dev.kiln.dsl.Sequential;
import dev.kiln.dsl.Softmax;
import dev.kiln.runtime.Tensor;

/** Softmax over feature maps: along the channels (values 12 apart), along the rows (values 4 apart), along the last dimension. */
@Model(input = {2, 3, 4})
public class SoftmaxMaps extends Module {
  final Sequential body = Sequential.of(new Conv2d(2, 2, 1), new Softmax(1), new Softmax(-2), new Flatten(), new Linear(24, 3));

  @Override
  public Tensor forward(Tensor x) {
    return softmax(body.apply(softmax(x, 3)), -1);
  }
}
