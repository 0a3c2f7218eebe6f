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
 * PyTorch's examples/mnist Net, scaled down: two convolutions, max pooling, dropout, two Linear
 * layers and F.log_softmax(x, dim=1), whose output NLLLoss takes.
 */
@Model(input = {1, 12, 12})
public class MnistExample extends Module {
  final Conv2d conv1 = new Conv2d(1, 4, 3);
  final Conv2d conv2 = new Conv2d(4, 8, 3);
  final Dropout dropout1 = new Dropout(0.25);
  final Dropout dropout2 = new Dropout(0.5);
  final Linear fc1 = new Linear(8 * 4 * 4, 16);
  final Linear fc2 = new Linear(16, 10);

  @Override
  public Tensor forward(Tensor x) {
    x = relu(conv1.apply(x));
    x = relu(conv2.apply(x));
    x = maxPool2d(x, 2);
    x = dropout1.apply(x);
    x = flatten(x);
    x = relu(fc1.apply(x));
    x = dropout2.apply(x);
    return logSoftmax(fc2.apply(x), 1);
  }
}
