package dev.kiln.samples;

import dev.kiln.dsl.CrossEntropyLoss;
import dev.kiln.dsl.Module;
import dev.kiln.runtime.Device;
import dev.kiln.runtime.Kiln;
import dev.kiln.runtime.Tensor;
import dev.kiln.runtime.cpu.Blas;
import dev.kiln.runtime.data.Batch;
import dev.kiln.runtime.data.DataLoader;
import dev.kiln.runtime.data.Dataset;
import dev.kiln.runtime.data.Example;
import dev.kiln.runtime.data.FashionMnist;
import dev.kiln.runtime.data.ImageDataset;
import dev.kiln.runtime.io.Checkpoint;
import dev.kiln.runtime.optim.SGD;
import dev.kiln.runtime.plot.Plots;
import dev.kiln.runtime.util.ConfusionMatrix;
import dev.kiln.runtime.util.Progress;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * {@code fashion-mnist}: the tutorials' training loop, written the way a PyTorch user writes it.
 * Runs the class the annotation processor compiled from {@link Models#mlp()} ({@code KilnMlp}),
 * or with {@code --eager} the declaration itself.
 * Prints one line per epoch and ends with a {@code RESULT} line that scripts can grep.
 *
 * <p>{@code --checkpoint PATH} writes a {@link Checkpoint} (model, optimizer, random generator,
 * epoch) to PATH after every epoch; {@code --resume PATH} restores one and continues from the epoch
 * after it, ending with exactly the parameters of an unbroken run with the same seed and options.
 * Both may name the same file. The plots of a resumed run show only the epochs it ran.
 */
final class FashionMnistCommand {
  private FashionMnistCommand() {}

  static void run(Args args) {
    String model = args.string("model", "mlp");
    int epochs = args.integer("epochs", 5, 1);
    int batch = args.integer("batch", 64, 1);
    double lr = args.positive("lr", 0.01);
    double momentum = args.nonNegative("momentum", 0.9);
    long seed = args.integer("seed", 0, 0);
    boolean eager = args.flag("eager");
    if (!List.of("mlp", "cnn", "resnet", "transformer", "lstm").contains(model)) {
      throw new Args.UsageException("fashion-mnist: --model must be mlp, cnn, resnet, transformer or lstm, got '" + model + "'");
    }
    Path checkpoint = args.outputFile("checkpoint");
    Path resume = args.inputFile("resume");
    args.rejectUnknown("out", "device");
    if (resume != null) {
      requireCheckpoint(resume);
    }
    Path out = args.outputDirectory("out", "runs/fashion-mnist-" + model);
    Device device = args.device();

    Kiln.manualSeed(seed);
    Dataset<Example> trainSet = FashionMnist.train();
    ImageDataset testSet = FashionMnist.test();
    Module net = switch (model) {
      case "cnn" -> eager ? new FashionCnn() : new KilnFashionCnn();
      case "resnet" -> eager ? new FashionResNet() : new KilnFashionResNet();
      case "transformer" -> eager ? new FashionTransformer() : new KilnFashionTransformer();
      case "lstm" -> eager ? new FashionLstm() : new KilnFashionLstm();
      default -> eager ? Models.mlp() : new KilnMlp();
    };
    net.to(device);
    System.out.printf(Locale.ROOT, "FashionMNIST: %d training and %d test images; %s mode; device %s; matrix multiply: %s%n",
        trainSet.size(), testSet.size(), eager ? "eager" : "compiled", device, Blas.describe());
    System.out.println(net);

    var test = new DataLoader<>(testSet, 1000, false);
    Outcome outcome;
    Thread hint = checkpoint == null ? null : resumeHint(checkpoint);
    try {
      if (resume != null) {
        requireSameModel(resume, net, model);
      }
      outcome = train(net, trainSet, test, new Training(epochs, batch, lr, momentum, checkpoint, resume));
    } catch (IOException e) {
      throw new UncheckedIOException("fashion-mnist: " + e.getMessage(), e);
    } finally {
      if (hint != null) {
        try {
          Runtime.getRuntime().removeShutdownHook(hint);
        } catch (IllegalStateException shuttingDown) {
          // Ctrl-C arrived: the hint is being printed
        }
      }
    }
    try {
      writePlots(out, net, test, testSet, outcome.losses(), outcome.accuracies());
    } catch (NoClassDefFoundError e) { // a jlink'd runtime without AWT, as the GPU recipe's
      System.out.println("plots not written: this Java runtime has no java.desktop module, which drawing them needs ("
          + e.getMessage() + ")");
    }
    System.out.printf(Locale.ROOT, "RESULT model=%s mode=%s epochs=%d test_accuracy=%.2f train_seconds=%.1f%n",
        model, eager ? "eager" : "compiled", epochs, outcome.accuracy(), outcome.trainSeconds());
  }

  /**
   * Throws, naming the first difference, unless the checkpoint holds weights of {@code net}'s keys
   * and shapes: resuming the MLP from a CNN's checkpoint says so instead of failing on the optimizer.
   */
  private static void requireSameModel(Path file, Module net, String model) throws IOException {
    Map<String, Tensor> saved = Checkpoint.modelState(file);
    Map<String, Tensor> own = net.stateDict();
    for (Map.Entry<String, Tensor> e : own.entrySet()) {
      Tensor t = saved.get(e.getKey());
      if (t == null || !Arrays.equals(t.shape(), e.getValue().shape())) {
        throw new IllegalArgumentException("fashion-mnist: --resume " + file + " holds another model's weights ("
            + e.getKey() + (t == null ? " is missing" : " has shape " + Arrays.toString(t.shape()) + ", the "
            + model + "'s " + Arrays.toString(e.getValue().shape())) + "); was it written with another --model?");
      }
    }
  }

  /** On Ctrl-C while training with --checkpoint: says how to go on from the last epoch saved. */
  private static Thread resumeHint(Path checkpoint) {
    Thread hint = new Thread(() -> System.err.println(java.nio.file.Files.isRegularFile(checkpoint)
        ? "\ninterrupted: run the same command with --resume " + checkpoint + " to go on after the last epoch saved"
        : "\ninterrupted before the first epoch was saved to " + checkpoint));
    Runtime.getRuntime().addShutdownHook(hint);
    return hint;
  }

  /** Fails, before the dataset is read, unless {@code --resume}'s file reads as a checkpoint. */
  private static void requireCheckpoint(Path file) {
    try {
      Checkpoint.modelState(file);
    } catch (IOException | RuntimeException e) {
      throw new Args.UsageException("fashion-mnist: --resume " + file + " is not a checkpoint that --checkpoint writes ("
          + e.getMessage() + ")");
    }
  }

  /**
   * The training loop's settings.
   *
   * @param checkpoint where to write a {@link Checkpoint} after every epoch, or null
   * @param resume a checkpoint to continue from, at the epoch after the one it was written after, or
   *     null to start afresh
   */
  record Training(int epochs, int batch, double lr, double momentum, Path checkpoint, Path resume) {}

  /** What a run produced: each epoch's mean training loss and test accuracy (of the epochs run here). */
  record Outcome(List<Double> losses, List<Double> accuracies, double accuracy, double trainSeconds) {}

  /**
   * Trains {@code net} with SGD and momentum, shuffling {@code trainSet} each epoch, and evaluates
   * it on {@code test} after each epoch. With {@link Training#resume()}, the model, optimizer and
   * random generator are restored first, so the run ends with exactly the parameters of one that
   * was never stopped (same seed and settings).
   *
   * @throws IOException when a checkpoint cannot be read or written (the message names the file)
   */
  static Outcome train(Module net, Dataset<Example> trainSet, DataLoader<Example> test, Training t) throws IOException {
    var criterion = new CrossEntropyLoss();
    var opt = new SGD(net.parameters(), t.lr()).momentum(t.momentum());
    var train = new DataLoader<>(trainSet, t.batch(), true);
    int first = 1;
    if (t.resume() != null) {
      first = Checkpoint.load(t.resume(), net::loadStateDict, opt, null) + 1;
      System.out.printf(Locale.ROOT, "resumed from %s after epoch %d%n", t.resume(), first - 1);
    }
    double trainSeconds = 0;
    double accuracy = first > t.epochs() ? TrainingLoop.evaluate(net, test, null) : 0;
    List<Double> losses = new ArrayList<>();
    List<Double> accuracies = new ArrayList<>();
    for (int epoch = first; epoch <= t.epochs(); epoch++) {
      Progress bar = TrainingLoop.epoch(net, train, criterion, opt, String.format(Locale.ROOT, "epoch %d/%d", epoch, t.epochs()));
      trainSeconds += bar.seconds();
      accuracy = TrainingLoop.evaluate(net, test, null);
      losses.add(bar.meanLoss());
      accuracies.add(accuracy);
      System.out.printf(Locale.ROOT, "epoch %d/%d  train_loss %.4f  test_accuracy %.2f%%  seconds %.1f%n",
          epoch, t.epochs(), bar.meanLoss(), accuracy, bar.seconds());
      if (t.checkpoint() != null) {
        Checkpoint.save(t.checkpoint(), net.stateDict(), opt, null, epoch);
      }
    }
    return new Outcome(losses, accuracies, accuracy, trainSeconds);
  }

  /** The tutorials' figures: loss and accuracy curves, confusion matrix, a grid of predictions. */
  private static void writePlots(Path dir, Module net, DataLoader<Example> test, ImageDataset testSet,
      List<Double> losses, List<Double> accuracies) {
    ConfusionMatrix matrix = new ConfusionMatrix(FashionMnist.classNames().size());
    TrainingLoop.evaluate(net, test, matrix);
    if (losses.isEmpty()) { // resumed from a checkpoint of the last epoch: nothing was trained here
      System.out.println("no epochs left to train: the checkpoint was written after the last one; training.png not written");
    } else {
      Plots.trainingCurves(dir.resolve("training.png"), losses, accuracies);
    }
    Plots.confusionMatrix(dir.resolve("confusion.png"), matrix, FashionMnist.classNames());

    int shown = 24;
    int[] indices = new int[shown];
    for (int i = 0; i < shown; i++) {
      indices[i] = i;
    }
    Batch first = testSet.gather(indices);
    int[] predicted;
    try (var g = Kiln.noGrad()) {
      predicted = net.forward(first.x().to(TrainingLoop.deviceOf(net))).argmax(1).toIntArray();
    }
    float[] pixels = first.x().toFloatArray();
    List<float[]> images = new ArrayList<>();
    for (int i = 0; i < shown; i++) {
      images.add(Arrays.copyOfRange(pixels, i * 784, (i + 1) * 784));
    }
    Plots.predictionGrid(dir.resolve("predictions.png"), images, 28, 28, predicted, first.y().toIntArray(),
        FashionMnist.classNames(), 8);
    System.out.println("plots: " + (losses.isEmpty() ? "" : dir.resolve("training.png") + ", ") + dir.resolve("confusion.png")
        + ", " + dir.resolve("predictions.png"));
  }
}
