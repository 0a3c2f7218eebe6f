package dev.kiln.samples;

import dev.kiln.dsl.BatchNorm1d;
import dev.kiln.dsl.Flatten;
import dev.kiln.dsl.Conv2d;
import dev.kiln.dsl.Linear;
import dev.kiln.dsl.MaxPool2d;
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

  /**
   * The MNIST network of the PyTorch tutorial ({@code Net(28 * 28, 300, 100, 10)}): Flatten, then
   * Linear(784, 300) BatchNorm1d(300) ReLU, Linear(300, 100) BatchNorm1d(100) ReLU, Linear(100, 10).
   */
  @Model(input = {1, 28, 28})
  public static Sequential mnistMlp() {
    return Sequential.of(
        new Flatten(),
        new Linear(28 * 28, 300), new BatchNorm1d(300), new ReLU(),
        new Linear(300, 100), new BatchNorm1d(100), new ReLU(),
        new Linear(100, 10));
  }

  /**
   * The CIFAR-10 network of the tutorials: three conv5x5(padding 2)-maxpool(2) blocks with 32, 32
   * and 64 channels (32 -> 16 -> 8 -> 4), then Flatten, 1024-64 and 64-10, without activations, as
   * the tutorial writes it.
   */
  @Model(input = {3, 32, 32})
  public static Sequential cifar10() {
    return Sequential.of(
        new Conv2d(3, 32, 5).padding(2), new MaxPool2d(2),
        new Conv2d(32, 32, 5).padding(2), new MaxPool2d(2),
        new Conv2d(32, 64, 5).padding(2), new MaxPool2d(2),
        new Flatten(),
        new Linear(64 * 4 * 4, 64),
        new Linear(64, 10));
  }

  /** The add-two-numbers model of the tutorials' Sequential section: Linear(2, 8), ReLU, Linear(8, 1). */
  public static Sequential twoLayerRegression() {
    return Sequential.of(new Linear(2, 8), new ReLU(), new Linear(8, 1));
  }
}
