package dev.kiln.samples;

import dev.kiln.dsl.Flatten;
import dev.kiln.dsl.Linear;
import dev.kiln.dsl.Model;
import dev.kiln.dsl.ReLU;
import dev.kiln.dsl.Sequential;

/** The tutorials' networks, declared once for every sample and benchmark. */
public final class Models {
  private Models() {}

  /** The FashionMNIST MLP of the tutorials: Flatten, 784-512 ReLU, 512-512 ReLU, 512-10. */
  @Model(input = {1, 28, 28})
  public static Sequential mlp() {
    return Sequential.of(
        new Flatten(),
        new Linear(28 * 28, 512), new ReLU(),
        new Linear(512, 512), new ReLU(),
        new Linear(512, 10));
  }
}
