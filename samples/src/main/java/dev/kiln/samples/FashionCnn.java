package dev.kiln.samples;

import static dev.kiln.dsl.F.flatten;
import static dev.kiln.dsl.F.maxPool2d;
import static dev.kiln.dsl.F.relu;

import dev.kiln.dsl.BatchNorm1d;
import dev.kiln.dsl.BatchNorm2d;
import dev.kiln.dsl.Conv2d;
import dev.kiln.dsl.Dropout;
import dev.kiln.dsl.Linear;
import dev.kiln.dsl.Model;
import dev.kiln.dsl.Module;
import dev.kiln.runtime.Tensor;

/**
 * The tutorials' FashionMNIST CNN: three conv3x3(padding 1)-BatchNorm-ReLU-maxpool(2) blocks with
 * 32, 64 and 128 channels (28 -> 14 -> 7 -> 3), then 1152-512 and 512-512 with BatchNorm, ReLU
 * and Dropout(0.4), then 512-10. The annotation processor checks its shapes at compile time and
 * generates {@code KilnFashionCnn}.
 */
@Model(input = {1, 28, 28})
public class FashionCnn extends Module {
  final Conv2d conv1 = new Conv2d(1, 32, 3).padding(1);
  final Conv2d conv2 = new Conv2d(32, 64, 3).padding(1);
  final Conv2d conv3 = new Conv2d(64, 128, 3).padding(1);
  final BatchNorm2d bn1 = new BatchNorm2d(32);
  final BatchNorm2d bn2 = new BatchNorm2d(64);
  final BatchNorm2d bn3 = new BatchNorm2d(128);
  final Linear fc1 = new Linear(128 * 3 * 3, 512);
  final Linear fc2 = new Linear(512, 512);
  final Linear fc3 = new Linear(512, 10);
  final BatchNorm1d bnFc1 = new BatchNorm1d(512);
  final BatchNorm1d bnFc2 = new BatchNorm1d(512);
  final Dropout dropout = new Dropout(0.4);

  @Override
  public Tensor forward(Tensor x) {
    x = maxPool2d(relu(bn1.apply(conv1.apply(x))), 2);
    x = maxPool2d(relu(bn2.apply(conv2.apply(x))), 2);
    x = maxPool2d(relu(bn3.apply(conv3.apply(x))), 2);
    x = flatten(x);
    x = dropout.apply(relu(bnFc1.apply(fc1.apply(x))));
    x = dropout.apply(relu(bnFc2.apply(fc2.apply(x))));
    return fc3.apply(x);
  }
}
