package test;

import static dev.kiln.dsl.F.flatten;
import static dev.kiln.dsl.F.logSoftmax;
import static dev.kiln.dsl.F.maxPool2d;
import static dev.kiln.dsl.F.relu;

import dev.kiln.dsl.Conv2d;
import dev.kiln.dsl.Dropout;
import dev.kiln.dsl.Linear;
import dev.kiln.dsl.Model;
import dev.kiln.dsl.Module;
import dev.kiln.runtime.Tensor;

/**
 * pytorch/examples {@code mnist/main.py}'s Net at a quarter of its channels: two convolutions, a max pool, two dropouts,
 * two linear layers and a log-softmax, trained with {@code F.nll_loss}.
 */
@Model(input = {1, 28, 28})
public class ZooMnistNet extends Module {
  final Conv2d conv1 = new Conv2d(1, 8, 3).stride(1);
  final Conv2d conv2 = new Conv2d(8, 16, 3).stride(1);
  final Dropout dropout1 = new Dropout(0.25);
  final Dropout dropout2 = new Dropout(0.5);
  final Linear fc1 = new Linear(2304, 32);
  final Linear fc2 = new Linear(32, 10);

  @Override
  public Tensor forward(Tensor x) {
    x = conv1.apply(x);
    x = relu(x);
    x = conv2.apply(x);
    x = relu(x);
    x = maxPool2d(x, 2);
    x = dropout1.apply(x);
    x = flatten(x, 1, -1);
    x = fc1.apply(x);
    x = relu(x);
    x = dropout2.apply(x);
    x = fc2.apply(x);
    Tensor output = logSoftmax(x, 1);
    return output;
  }
}
