package dev.kiln.samples;

import dev.kiln.dsl.CrossEntropyLoss;
import dev.kiln.dsl.Module;
import dev.kiln.runtime.Device;
import dev.kiln.runtime.Kiln;
import dev.kiln.runtime.cpu.Blas;
import dev.kiln.runtime.data.DataLoader;
import dev.kiln.runtime.data.Dataset;
import dev.kiln.runtime.data.Example;
import dev.kiln.runtime.data.ImageDataset;
import dev.kiln.runtime.data.Mnist;
import dev.kiln.runtime.optim.SGD;
import dev.kiln.runtime.optim.StepLR;
import dev.kiln.runtime.util.Progress;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.function.Consumer;

/**
 * {@code mnist}: the PyTorch tutorial's MNIST MLP ({@link Models#mnistMlp()}, Linear layers with
 * BatchNorm1d) trained with SGD and momentum, the learning rate multiplied by 0.1 every 5 epochs by
 * a {@link StepLR} stepped once per epoch. Runs the class the annotation processor compiled ({@code
 * KilnMnistMlp}), or with {@code --eager} the declaration itself. Prints, as the tutorial does, the
 * train loss and accuracy, test loss and accuracy of each epoch, with its learning rate, and ends
 * with a {@code RESULT} line. The defaults are the tutorial's: 20 epochs, batches of 64 (128 for
 * the test set), lr 0.01, momentum 0.5.
 */
final class MnistCommand {
  private MnistCommand() {}

  static void run(Args args) {
    int epochs = args.integer("epochs", 20, 1);
    int batch = args.integer("batch", 64, 1);
    double lr = args.positive("lr", 0.01);
    double momentum = args.nonNegative("momentum", 0.5);
    long seed = args.integer("seed", 0, 0);
    boolean eager = args.flag("eager");
    args.rejectUnknown("device");
    Device device = args.device();

    Kiln.manualSeed(seed);
    ImageDataset trainSet = Mnist.train(); // a missing dataset: UncheckedIOException saying where to put it
    ImageDataset testSet = Mnist.test();
    Module net = (eager ? Models.mnistMlp() : new KilnMnistMlp()).to(device);
    String mode = eager ? "eager" : "compiled";
    System.out.printf(Locale.ROOT, "MNIST: %d training and %d test images; %s mode; device %s; matrix multiply: %s%n",
        trainSet.size(), testSet.size(), mode, device, Blas.describe());
    System.out.println(net);

    List<Epoch> history = train(net, trainSet, new DataLoader<>(testSet, 128, false), epochs, batch, lr, momentum,
        e -> System.out.printf(Locale.ROOT,
            "epoch %d/%d  train_loss %.4f  train_accuracy %.2f%%  test_loss %.4f  test_accuracy %.2f%%  lr %s  seconds %.1f%n",
            e.epoch(), epochs, e.trainLoss(), e.trainAccuracy(), e.testLoss(), e.testAccuracy(), e.lr(), e.seconds()));
    System.out.printf(Locale.ROOT, "RESULT model=mnist-mlp mode=%s epochs=%d test_accuracy=%.2f%n",
        mode, epochs, history.get(history.size() - 1).testAccuracy());
  }

  /**
   * One epoch's metrics, those the tutorial prints: the mean training loss and the accuracy of the
   * training outputs (in training mode, as they were computed), the test loss and accuracy; {@code
   * lr} is the learning rate the epoch trained with.
   */
  record Epoch(int epoch, double trainLoss, double trainAccuracy, double testLoss, double testAccuracy, double lr,
      double seconds) {}

  /**
   * Trains {@code net} for {@code epochs} epochs with cross-entropy, SGD with momentum and {@code
   * StepLR(opt, 5, 0.1)} stepped after each epoch (so epochs 1-5 use {@code lr}, 6-10 {@code lr /
   * 10}, as the tutorial's loop does), evaluating on {@code test} after each epoch and handing each
   * epoch's metrics to {@code report}.
   */
  static List<Epoch> train(Module net, Dataset<Example> trainSet, DataLoader<Example> test, int epochs, int batch,
      double lr, double momentum, Consumer<Epoch> report) {
    var criterion = new CrossEntropyLoss();
    var opt = new SGD(net.parameters(), lr).momentum(momentum);
    var scheduler = new StepLR(opt, 5, 0.1);
    var train = new DataLoader<>(trainSet, batch, true);
    List<Epoch> history = new ArrayList<>();
    for (int epoch = 1; epoch <= epochs; epoch++) {
      double epochLr = scheduler.getLastLr().get(0);
      var trainAccuracy = new TrainingLoop.Tally();
      Progress bar = TrainingLoop.epoch(net, train, criterion, opt, String.format(Locale.ROOT, "epoch %d/%d", epoch, epochs),
          loss -> {}, trainAccuracy);
      scheduler.step();
      TrainingLoop.Evaluation tested = TrainingLoop.evaluate(net, test, criterion, null);
      Epoch e = new Epoch(epoch, bar.meanLoss(), trainAccuracy.percent(), tested.loss(), tested.accuracy(), epochLr,
          bar.seconds());
      history.add(e);
      report.accept(e);
    }
    return history;
  }
}
