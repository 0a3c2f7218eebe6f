package test;

import static dev.kiln.dsl.F.add;
import static dev.kiln.dsl.F.flatten;
import static dev.kiln.dsl.F.mul;
import static dev.kiln.dsl.F.relu;
import static dev.kiln.dsl.F.sigmoid;

import dev.kiln.dsl.BatchNorm2d;
import dev.kiln.dsl.Conv2d;
import dev.kiln.dsl.Linear;
import dev.kiln.dsl.Model;
import dev.kiln.dsl.Module;
import dev.kiln.runtime.Tensor;

/**
 * Two ResNet basic blocks: one with the identity shortcut (from the model's input itself), one
 * that halves the map with a projection shortcut (a 1x1 convolution of stride 2); then a head
 * whose hidden value feeds a Linear and the add after it, then a gate (mul by a sigmoid of itself).
 */
@Model(input = {4, 6, 6})
public class Residual extends Module {
  final Conv2d conv1 = new Conv2d(4, 4, 3).padding(1).bias(false);
  final BatchNorm2d bn1 = new BatchNorm2d(4);
  final Conv2d conv2 = new Conv2d(4, 4, 3).padding(1).bias(false);
  final BatchNorm2d bn2 = new BatchNorm2d(4);
  final Conv2d conv3 = new Conv2d(4, 8, 3).stride(2).padding(1).bias(false);
  final BatchNorm2d bn3 = new BatchNorm2d(8);
  final Conv2d shortcut = new Conv2d(4, 8, 1).stride(2);
  final Linear fc1 = new Linear(8 * 3 * 3, 10);
  final Linear fc2 = new Linear(10, 10);
  final Linear fc3 = new Linear(10, 3);
  final Linear gate = new Linear(10, 10);

  @Override
  public Tensor forward(Tensor x) {
    Tensor h = relu(bn1.apply(conv1.apply(x)));
    h = bn2.apply(conv2.apply(h));
    x = relu(add(h, x));                               // identity shortcut
    h = bn3.apply(conv3.apply(x));
    x = relu(add(shortcut.apply(x), h));               // projection shortcut
    Tensor z = relu(fc1.apply(flatten(x)));
    z = add(relu(fc2.apply(z)), z);
    z = mul(z, sigmoid(gate.apply(z)));                // a gate: mul of two values
    return fc3.apply(add(z, z));                       // one value twice
  }
}
