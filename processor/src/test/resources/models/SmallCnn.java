package test;

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

/** The tutorials' CNN in small: conv-BN-ReLU-pool, flatten, linear-BN-ReLU-dropout, linear. */
@Model(input = {1, 8, 8})
public class SmallCnn extends Module {
  static final int CHANNELS = 4;
  final Conv2d conv1 = new Conv2d(1, CHANNELS, 3).padding(1);
  final BatchNorm2d bn1 = new BatchNorm2d(CHANNELS);
  final Linear fc1 = new Linear(CHANNELS * 4 * 4, 6);
  final BatchNorm1d bnFc1 = new BatchNorm1d(6);
  final Dropout dropout = new Dropout(0.25);
  final Linear fc2 = new Linear(6, 3);

  @Override
  public Tensor forward(Tensor x) {
    x = maxPool2d(relu(bn1.apply(conv1.apply(x))), 2);
    x = flatten(x);
    x = dropout.apply(relu(bnFc1.apply(fc1.apply(x))));
    return fc2.apply(x);
  }
}
