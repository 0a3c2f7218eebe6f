package test;

import static dev.kiln.dsl.F.flatten;

import dev.kiln.dsl.BatchNorm2d;
import dev.kiln.dsl.Conv2d;
import dev.kiln.dsl.Dropout;
import dev.kiln.dsl.Linear;
import dev.kiln.dsl.MaxPool2d;
import dev.kiln.dsl.Model;
import dev.kiln.dsl.Module;
import dev.kiln.dsl.ReLU;
import dev.kiln.dsl.Sequential;
import dev.kiln.runtime.Tensor;

/** Layers assigned in the constructor, as PyTorch models assign them in __init__. */
@Model(input = {1, 8, 8})
public class AssignedInConstructor extends Module {
  static final int CHANNELS = 4;

  final Sequential block;
  final Linear fc;
  final Dropout drop = new Dropout(0.25);

  public AssignedInConstructor() {
    super();
    block = Sequential.of(new Conv2d(1, CHANNELS, 3).padding(1), new BatchNorm2d(CHANNELS), new ReLU(), new MaxPool2d(2));
    this.fc = new Linear(CHANNELS * 4 * 4, 3);
  }

  @Override
  public Tensor forward(Tensor x) {
    return fc.apply(drop.apply(flatten(block.apply(x))));
  }
}
