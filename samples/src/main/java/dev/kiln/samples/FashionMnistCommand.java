package dev.kiln.samples;

import dev.kiln.dsl.CrossEntropyLoss;
import dev.kiln.dsl.Module;
import dev.kiln.runtime.Kiln;
import dev.kiln.runtime.Tensor;
import dev.kiln.runtime.cpu.Blas;
import dev.kiln.runtime.data.Batch;
import dev.kiln.runtime.data.DataLoader;
import dev.kiln.runtime.data.Dataset;
import dev.kiln.runtime.data.Example;
import dev.kiln.runtime.data.FashionMnist;
import dev.kiln.runtime.data.ImageDataset;
import dev.kiln.runtime.optim.SGD;
import dev.kiln.runtime.plot.Plots;
import dev.kiln.runtime.util.ConfusionMatrix;
import dev.kiln.runtime.util.Progress;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;

/**
 * {@code fashion-mnist}: the tutorials' training loop, written the way a PyTorch user writes it.
 * Runs the class the annotation processor compiled from {@link Models#mlp()} ({@code KilnMlp}),
 * or with {@code --eager} the declaration itself.
 * Prints one line per epoch and ends with a {@code RESULT} line that scripts can grep.
 */
final class FashionMnistCommand {
  private FashionMnistCommand() {}

  static void run(Args args) {
    String model = args.string("model", "mlp");
    int epochs = args.integer("epochs", 5, 1);
    int batch = args.integer("batch", 64, 1);
    double lr = args.number("lr", 0.01);
    double momentum = args.number("momentum", 0.9);
    long seed = args.integer("seed", 0, 0);
    boolean eager = args.flag("eager");
    Path out = Path.of(args.string("out", "runs/fashion-mnist-" + model));
    args.rejectUnknown();
    if (!model.equals("mlp") && !model.equals("cnn")) {
      throw new Args.UsageException("fashion-mnist: --model must be mlp or cnn, got '" + model + "'");
    }

    Kiln.manualSeed(seed);
    Dataset<Example> trainSet = FashionMnist.train();
    ImageDataset testSet = FashionMnist.test();
    Module net = model.equals("cnn") ? (eager ? new FashionCnn() : new KilnFashionCnn()) : eager ? Models.mlp() : new KilnMlp();
    System.out.printf(Locale.ROOT, "FashionMNIST: %d training and %d test images; %s mode; matrix multiply: %s%n",
        trainSet.size(), testSet.size(), eager ? "eager" : "compiled", Blas.describe());
    System.out.println(net);

    var criterion = new CrossEntropyLoss();
    var opt = new SGD(net.parameters(), lr).momentum(momentum);
    var train = new DataLoader<>(trainSet, batch, true);
    var test = new DataLoader<>(testSet, 1000, false);
    double trainSeconds = 0;
    double accuracy = 0;
    List<Double> losses = new ArrayList<>();
    List<Double> accuracies = new ArrayList<>();
    for (int epoch = 1; epoch <= epochs; epoch++) {
      net.train();
      Progress bar = Progress.start(String.format(Locale.ROOT, "epoch %d/%d", epoch, epochs), train.size());
      for (Batch b : train) {
        opt.zeroGrad();
        Tensor loss = criterion.apply(net.forward(b.x()), b.y());
        loss.backward();
        opt.step();
        bar.step(loss.item());
      }
      bar.finish();
      trainSeconds += bar.seconds();
      accuracy = evaluate(net, test, null);
      losses.add(bar.meanLoss());
      accuracies.add(accuracy);
      System.out.printf(Locale.ROOT, "epoch %d/%d  train_loss %.4f  test_accuracy %.2f%%  seconds %.1f%n",
          epoch, epochs, bar.meanLoss(), accuracy, bar.seconds());
    }
    writePlots(out, net, test, testSet, losses, accuracies);
    System.out.printf(Locale.ROOT, "RESULT model=%s mode=%s epochs=%d test_accuracy=%.2f train_seconds=%.1f%n",
        model, eager ? "eager" : "compiled", epochs, accuracy, trainSeconds);
  }

  /** Percentage of test images whose arg-max class equals the label; fills {@code matrix} when given. */
  static double evaluate(Module net, DataLoader<Example> test, ConfusionMatrix matrix) {
    net.eval();
    long correct = 0, total = 0;
    try (var g = Kiln.noGrad()) {
      for (Batch b : test) {
        int[] predicted = net.forward(b.x()).argmax(1).toIntArray();
        int[] labels = b.y().toIntArray();
        for (int i = 0; i < labels.length; i++) {
          correct += predicted[i] == labels[i] ? 1 : 0;
        }
        total += labels.length;
        if (matrix != null) {
          matrix.add(labels, predicted);
        }
      }
    }
    return 100.0 * correct / total;
  }

  /** The tutorials' figures: loss and accuracy curves, confusion matrix, a grid of predictions. */
  private static void writePlots(Path dir, Module net, DataLoader<Example> test, ImageDataset testSet,
      List<Double> losses, List<Double> accuracies) {
    ConfusionMatrix matrix = new ConfusionMatrix(FashionMnist.classNames().size());
    evaluate(net, test, matrix);
    Plots.trainingCurves(dir.resolve("training.png"), losses, accuracies);
    Plots.confusionMatrix(dir.resolve("confusion.png"), matrix, FashionMnist.classNames());

    int shown = 24;
    int[] indices = new int[shown];
    for (int i = 0; i < shown; i++) {
      indices[i] = i;
    }
    Batch first = testSet.gather(indices);
    int[] predicted;
    try (var g = Kiln.noGrad()) {
      predicted = net.forward(first.x()).argmax(1).toIntArray();
    }
    float[] pixels = first.x().toFloatArray();
    List<float[]> images = new ArrayList<>();
    for (int i = 0; i < shown; i++) {
      images.add(Arrays.copyOfRange(pixels, i * 784, (i + 1) * 784));
    }
    Plots.predictionGrid(dir.resolve("predictions.png"), images, 28, 28, predicted, first.y().toIntArray(),
        FashionMnist.classNames(), 8);
    System.out.println("plots: " + dir.resolve("training.png") + ", " + dir.resolve("confusion.png") + ", "
        + dir.resolve("predictions.png"));
  }
}
