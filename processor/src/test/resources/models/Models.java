package test;

import dev.kiln.dsl.Flatten;
import dev.kiln.dsl.Linear;
import dev.kiln.dsl.Model;
import dev.kiln.dsl.ReLU;
import dev.kiln.dsl.Sequential;

public final class Models {
  private Models() {}

  @Model(input = {1, 28, 28})
  public static Sequential mlp() {
    return Sequential.of(
        new Flatten(),
        new Linear(784, 512), new ReLU(),
        new Linear(512, 512), new ReLU(),
        new Linear(512, 10));
  }
}
