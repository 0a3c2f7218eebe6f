package dev.kiln.samples;

/**
 * {@code summary}: torchsummary's table ({@link dev.kiln.dsl.Module#summary}) for the tutorials'
 * networks: the add-two-numbers model, the FashionMNIST MLP and CNN, and the CIFAR-10 network; and
 * samples' ResNet, its compiled class (whose summary records the declaration's layers as they run).
 */
final class SummaryCommand {
  private SummaryCommand() {}

  static void run(Args args) {
    args.rejectUnknown();
    print("add-two-numbers model, input (2,)", Models.twoLayerRegression().summary(2));
    print("FashionMNIST MLP, input (784,)", Models.mlp().summary(784));
    print("FashionMNIST CNN, input (1, 28, 28)", new FashionCnn().summary(1, 28, 28));
    print("CIFAR-10 network, input (3, 32, 32)", Models.cifar10().summary(3, 32, 32));
    print("FashionMNIST ResNet (residual connections), input (1, 28, 28)", new KilnFashionResNet().summary(1, 28, 28));
  }

  private static void print(String title, String summary) {
    System.out.println(title);
    System.out.println(summary);
    System.out.println();
  }
}
