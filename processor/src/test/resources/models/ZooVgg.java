package test;

import static dev.kiln.dsl.F.flatten;

import dev.kiln.dsl.AdaptiveAvgPool2d;
import dev.kiln.dsl.BatchNorm2d;
import dev.kiln.dsl.Conv2d;
import dev.kiln.dsl.Dropout;
import dev.kiln.dsl.Init;
import dev.kiln.dsl.Linear;
import dev.kiln.dsl.MaxPool2d;
import dev.kiln.dsl.Model;
import dev.kiln.dsl.Module;
import dev.kiln.dsl.ReLU;
import dev.kiln.dsl.Sequential;
import dev.kiln.runtime.Tensor;

/**
 * pytorch/vision {@code torchvision/models/vgg.py}'s VGG with batch norm on 32x32 images, make_layers of the cfg [8, "M",
 * 16, "M", 32, 32, "M"] (an eighth of cfg "A"'s widths, its first three stages), adaptive average pooling to 2x2 and the
 * classifier at 64 hidden units, ten classes; its init.
 */
@Model(input = {3, 32, 32})
public class ZooVgg extends Module {
  // make_layers(cfgs["A"][:7] / 8, batch_norm=True): each number a conv3x3, batch norm and ReLU, each "M" a max pool
  final Sequential features = Sequential.of(
      new Conv2d(3, 8, 3).padding(1), new BatchNorm2d(8), new ReLU(),
      new MaxPool2d(2).stride(2),
      new Conv2d(8, 16, 3).padding(1), new BatchNorm2d(16), new ReLU(),
      new MaxPool2d(2).stride(2),
      new Conv2d(16, 32, 3).padding(1), new BatchNorm2d(32), new ReLU(),
      new Conv2d(32, 32, 3).padding(1), new BatchNorm2d(32), new ReLU(),
      new MaxPool2d(2).stride(2));
  final AdaptiveAvgPool2d avgpool = new AdaptiveAvgPool2d(2, 2);
  final Sequential classifier = Sequential.of(
      new Linear(32 * 2 * 2, 64),
      new ReLU(),
      new Dropout(0.5),
      new Linear(64, 64),
      new ReLU(),
      new Dropout(0.5),
      new Linear(64, 10));

  public ZooVgg() {
    for (Module m : modules()) {
      if (m instanceof Conv2d c) {
        Init.kaimingNormal(c.weight(), 0, Init.FanMode.FAN_OUT, Init.Nonlinearity.RELU);
        Init.zeros(c.bias());
      } else if (m instanceof BatchNorm2d bn) {
        Init.ones(bn.weight());
        Init.zeros(bn.bias());
      } else if (m instanceof Linear l) {
        Init.normal(l.weight(), 0, 0.01);
        Init.zeros(l.bias());
      }
    }
  }

  @Override
  public Tensor forward(Tensor x) {
    x = features.apply(x);
    x = avgpool.apply(x);
    x = flatten(x, 1, -1);
    x = classifier.apply(x);
    return x;
  }
}
