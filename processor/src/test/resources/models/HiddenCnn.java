package test;

import static dev.kiln.dsl.F.flatten;
import static dev.kiln.dsl.F.maxPool2d;
import static dev.kiln.dsl.F.relu;

import dev.kiln.dsl.BatchNorm2d;
import dev.kiln.dsl.Conv2d;
import dev.kiln.dsl.Linear;
import dev.kiln.dsl.Model;
import dev.kiln.dsl.Module;
import dev.kiln.runtime.Tensor;

/**
 * Three outputs: the logits, the fused BN+ReLU feature map and the pre-activation of fc1 (whose
 * ReLU must then not be fused into fc1's GEMM); forward has a body of its own.
 */
@Model(input = {1, 6, 6})
public class HiddenCnn extends Module {
  final Conv2d conv1 = new Conv2d(1, 4, 3).padding(1);
  final BatchNorm2d bn1 = new BatchNorm2d(4);
  final Linear fc1 = new Linear(4 * 3 * 3, 5);
  final Linear fc2 = new Linear(5, 3);

  record Outputs(Tensor logits, Tensor features, Tensor preActivation) {}

  Outputs inspect(Tensor x) {
    Tensor features = relu(bn1.apply(conv1.apply(x)));
    Tensor pre = fc1.apply(flatten(maxPool2d(features, 2)));
    Tensor logits = fc2.apply(relu(pre));
    return new Outputs(logits, features, pre);
  }

  @Override
  public Tensor forward(Tensor x) {
    x = maxPool2d(relu(bn1.apply(conv1.apply(x))), 2);
    x = relu(fc1.apply(flatten(x)));
    return fc2.apply(x);
  }
}
