package test;

import static dev.kiln.dsl.F.adaptiveAvgPool2d;
import static dev.kiln.dsl.F.flatten;
import static dev.kiln.dsl.F.mul;
import static dev.kiln.dsl.F.relu;
import static dev.kiln.dsl.F.reshape;
import static dev.kiln.dsl.F.sigmoid;

import dev.kiln.dsl.BatchNorm2d;
import dev.kiln.dsl.Conv2d;
import dev.kiln.dsl.Linear;
import dev.kiln.dsl.Model;
import dev.kiln.dsl.Module;
import dev.kiln.runtime.Tensor;

/**
 * A squeeze-and-excitation block as the original paper's code writes it: global average pooling,
 * flattened, two Linear layers, then the [N, C] gate viewed as [N, C, 1, 1] (reshape(x, -1, C, 1, 1),
 * PyTorch's view(b, c, 1, 1)) and broadcast over the map.
 */
@Model(input = {3, 6, 6})
public class SqueezeExcite extends Module {
  static final int C = 8;
  final Conv2d conv = new Conv2d(3, C, 3).padding(1).bias(false);
  final BatchNorm2d bn = new BatchNorm2d(C);
  final Linear fc1 = new Linear(C, C / 4);
  final Linear fc2 = new Linear(C / 4, C);
  final Linear head = new Linear(C * 6 * 6, 4);

  @Override
  public Tensor forward(Tensor x) {
    Tensor h = relu(bn.apply(conv.apply(x)));
    Tensor s = flatten(adaptiveAvgPool2d(h, 1));                       // [N, C]
    s = sigmoid(fc2.apply(relu(fc1.apply(s))));
    h = mul(h, reshape(s, -1, C, 1, 1));                               // the gate over the map
    return head.apply(flatten(h));
  }
}
