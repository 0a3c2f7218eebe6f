package dev.kiln.samples;

import java.util.Set;

/** Entry point of {@code kiln-samples.jar}: {@code java -jar kiln-samples.jar <command> [options]}. */
public final class Main {
  static final String USAGE = String.join("\n",
      "usage: java -jar samples/target/kiln-samples.jar <command> [options]",
      "",
      "commands:",
      "  fashion-mnist --model mlp|cnn [--epochs 5] [--batch 64] [--lr 0.01] [--momentum 0.9] [--seed 0] [--eager] [--out DIR]",
      "                train the tutorials' model on FashionMNIST and report test accuracy;",
      "                compiled by the annotation processor unless --eager; writes training.png,",
      "                confusion.png and predictions.png to DIR (default runs/fashion-mnist-<model>)",
      "  bench [--model mlp|cnn|all] [--steps 200] [--peer PATH|none]",
      "                time training steps and inference next to the PyTorch peer",
      "",
      "FashionMNIST is read from $KILN_DATA, ~/.kiln/datasets/fashion-mnist or",
      "/usr/share/datasets/fashion-mnist (Debian: apt-get install dataset-fashion-mnist).");

  private Main() {}

  public static void main(String[] args) {
    if (args.length == 0 || args[0].equals("--help") || args[0].equals("-h")) {
      System.out.println(USAGE);
      return;
    }
    try {
      switch (args[0]) {
        case "fashion-mnist" -> FashionMnistCommand.run(new Args(args[0], args, 1, Set.of("eager")));
        case "bench" -> BenchCommand.run(new Args(args[0], args, 1, Set.of()));
        default -> throw new Args.UsageException("unknown command '" + args[0] + "'");
      }
    } catch (Args.UsageException e) {
      System.err.println("error: " + e.getMessage());
      System.err.println(USAGE);
      System.exit(2);
    }
  }
}
