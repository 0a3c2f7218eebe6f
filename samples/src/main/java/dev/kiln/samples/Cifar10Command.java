package dev.kiln.samples;

import dev.kiln.dsl.CrossEntropyLoss;
import dev.kiln.dsl.Module;
import dev.kiln.runtime.Device;
import dev.kiln.runtime.Kiln;
import dev.kiln.runtime.data.Cifar10;
import dev.kiln.runtime.data.DataLoader;
import dev.kiln.runtime.data.ImageDataset;
import dev.kiln.runtime.optim.SGD;
import dev.kiln.runtime.util.Progress;
import java.io.FileNotFoundException;
import java.io.UncheckedIOException;
import java.util.Locale;

/**
 * {@code cifar10}: trains the tutorials' CIFAR-10 network (compiled, {@link KilnCifar10}, or with
 * {@code --eager} {@link Models#cifar10()}) with cross-entropy and SGD and reports the test accuracy
 * after each epoch. Without the CIFAR-10 files (and no way to download them) it says where to put
 * them and exits with status 1.
 */
final class Cifar10Command {
  private Cifar10Command() {}

  static void run(Args args) {
    int epochs = args.integer("epochs", 1, 1);
    int batch = args.integer("batch", 64, 1);
    double lr = args.positive("lr", 0.01);
    double momentum = args.nonNegative("momentum", 0.9);
    long seed = args.integer("seed", 0, 0);
    boolean augment = args.flag("augment");
    boolean eager = args.flag("eager");
    args.rejectUnknown("device");
    Device device = args.device();

    ImageDataset trainSet;
    ImageDataset testSet;
    try {
      trainSet = Cifar10.train();
      testSet = Cifar10.test();
    } catch (UncheckedIOException e) {
      if (!(e.getCause() instanceof FileNotFoundException)) {
        throw e;
      }
      System.err.println("error: " + e.getMessage());
      System.exit(1);
      return;
    }
    if (augment) { // torchvision's RandomCrop(32, padding=4) and RandomHorizontalFlip(), training images only
      trainSet = trainSet.randomCrop(4).randomHorizontalFlip();
    }
    Kiln.manualSeed(seed);
    Module net = (eager ? Models.cifar10() : new KilnCifar10()).to(device);
    System.out.printf(Locale.ROOT, "CIFAR-10: %d training and %d test images%s; %s mode; device %s%n", trainSet.size(),
        testSet.size(), augment ? " (training images randomly cropped with padding 4 and flipped)" : "",
        eager ? "eager" : "compiled", device);
    System.out.println(net);

    var criterion = new CrossEntropyLoss();
    var opt = new SGD(net.parameters(), lr).momentum(momentum);
    var train = new DataLoader<>(trainSet, batch, true);
    var test = new DataLoader<>(testSet, 1000, false);
    double accuracy = 0;
    for (int epoch = 1; epoch <= epochs; epoch++) {
      Progress bar = TrainingLoop.epoch(net, train, criterion, opt, String.format(Locale.ROOT, "epoch %d/%d", epoch, epochs));
      accuracy = TrainingLoop.evaluate(net, test, null);
      System.out.printf(Locale.ROOT, "epoch %d/%d  train_loss %.4f  test_accuracy %.2f%%  seconds %.1f%n",
          epoch, epochs, bar.meanLoss(), accuracy, bar.seconds());
    }
    System.out.printf(Locale.ROOT, "RESULT model=cifar10 mode=%s epochs=%d test_accuracy=%.2f%n",
        eager ? "eager" : "compiled", epochs, accuracy);
  }
}
