package dev.kiln.samples;

import static dev.kiln.dsl.F.add;
import static dev.kiln.dsl.F.flatten;
import static dev.kiln.dsl.F.maxPool2d;
import static dev.kiln.dsl.F.relu;

import dev.kiln.dsl.BatchNorm2d;
import dev.kiln.dsl.Conv2d;
import dev.kiln.dsl.Dropout;
import dev.kiln.dsl.Linear;
import dev.kiln.dsl.Model;
import dev.kiln.dsl.Module;
import dev.kiln.runtime.Tensor;

/**
 * A small ResNet for FashionMNIST, about the tutorials' CNN's cost: a conv3x3-BatchNorm-ReLU stem
 * with 32 channels pooled to 14x14, a basic block with the identity shortcut, a basic block that
 * halves the map to 7x7 with 64 channels and a projection shortcut (1x1 convolution of stride 2
 * and BatchNorm, as torchvision's ResNet), then max pooling to 3x3, Dropout(0.4) and 576-10.
 * Residual connections are {@code add(branch, shortcut)}, each followed by a ReLU; the annotation
 * processor compiles them into {@code KilnFashionResNet} (the add and its ReLU in one pass).
 */
@Model(input = {1, 28, 28})
public class FashionResNet extends Module {
  final Conv2d stem = new Conv2d(1, 32, 3).padding(1).bias(false);
  final BatchNorm2d stemBn = new BatchNorm2d(32);

  final Conv2d conv1 = new Conv2d(32, 32, 3).padding(1).bias(false);
  final BatchNorm2d bn1 = new BatchNorm2d(32);
  final Conv2d conv2 = new Conv2d(32, 32, 3).padding(1).bias(false);
  final BatchNorm2d bn2 = new BatchNorm2d(32);

  final Conv2d conv3 = new Conv2d(32, 64, 3).stride(2).padding(1).bias(false);
  final BatchNorm2d bn3 = new BatchNorm2d(64);
  final Conv2d conv4 = new Conv2d(64, 64, 3).padding(1).bias(false);
  final BatchNorm2d bn4 = new BatchNorm2d(64);
  final Conv2d shortcut = new Conv2d(32, 64, 1).stride(2).bias(false);
  final BatchNorm2d shortcutBn = new BatchNorm2d(64);

  final Dropout dropout = new Dropout(0.4);
  final Linear fc = new Linear(64 * 3 * 3, 10);

  @Override
  public Tensor forward(Tensor x) {
    x = maxPool2d(relu(stemBn.apply(stem.apply(x))), 2);              // [N, 32, 14, 14]

    Tensor h = relu(bn1.apply(conv1.apply(x)));                       // block 1: identity shortcut
    h = bn2.apply(conv2.apply(h));
    x = relu(add(h, x));

    h = relu(bn3.apply(conv3.apply(x)));                              // block 2: [N, 64, 7, 7]
    h = bn4.apply(conv4.apply(h));
    x = relu(add(h, shortcutBn.apply(shortcut.apply(x))));

    x = flatten(maxPool2d(x, 2));                                     // [N, 576]
    return fc.apply(dropout.apply(x));
  }
}
