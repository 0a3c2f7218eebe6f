package test;

import static dev.kiln.dsl.F.add;
import static dev.kiln.dsl.F.flatten;
import static dev.kiln.dsl.F.mul;
import static dev.kiln.dsl.F.relu;
import static dev.kiln.dsl.F.sigmoid;

import dev.kiln.dsl.AdaptiveAvgPool2d;
import dev.kiln.dsl.BatchNorm2d;
import dev.kiln.dsl.Conv2d;
import dev.kiln.dsl.Linear;
import dev.kiln.dsl.Model;
import dev.kiln.dsl.Module;
import dev.kiln.runtime.Tensor;

/**
 * Broadcasting adds and muls: a squeeze-and-excitation block (a [C, 1, 1] scale over the map, as
 * torchvision's SqueezeExcitation with 1x1 convolutions), a [C, H, 1] column added before the map
 * with the ReLU after it fused, and a [1, H, W] gate written first; the scale, the gate and the map
 * feed several repeated steps each, so their gradients are summed across them.
 */
@Model(input = {4, 6, 6})
public class Broadcasts extends Module {
  final Conv2d conv1 = new Conv2d(4, 8, 3).padding(1).bias(false);
  final BatchNorm2d bn1 = new BatchNorm2d(8);
  final AdaptiveAvgPool2d squeeze = new AdaptiveAvgPool2d(1);
  final Conv2d fc1 = new Conv2d(8, 2, 1);
  final Conv2d fc2 = new Conv2d(2, 8, 1);
  final AdaptiveAvgPool2d rows = new AdaptiveAvgPool2d(6, 1);
  final Conv2d gate = new Conv2d(8, 1, 1);
  final Linear fc = new Linear(8 * 6 * 6, 3);

  @Override
  public Tensor forward(Tensor x) {
    Tensor h = relu(bn1.apply(conv1.apply(x)));
    Tensor s = sigmoid(fc2.apply(relu(fc1.apply(squeeze.apply(h)))));
    h = mul(h, s);                                   // [N, 8, 6, 6] * [N, 8, 1, 1]
    h = relu(add(rows.apply(h), h));                 // [N, 8, 6, 1] + [N, 8, 6, 6], then ReLU
    Tensor g = sigmoid(gate.apply(h));               // [N, 1, 6, 6]
    Tensor m = mul(g, h);                            // the repeated value first
    h = add(add(m, s), mul(h, g));                   // s, g and h read again: their gradients add up
    return fc.apply(flatten(h));
  }
}
