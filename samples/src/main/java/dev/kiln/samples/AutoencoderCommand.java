package dev.kiln.samples;

import dev.kiln.dsl.Conv2d;
import dev.kiln.dsl.ConvTranspose2d;
import dev.kiln.dsl.MSELoss;
import dev.kiln.dsl.Model;
import dev.kiln.dsl.Module;
import dev.kiln.dsl.ReLU;
import dev.kiln.dsl.Sequential;
import dev.kiln.dsl.Tanh;
import dev.kiln.runtime.Device;
import dev.kiln.runtime.Kiln;
import dev.kiln.runtime.Tensor;
import dev.kiln.runtime.data.Batch;
import dev.kiln.runtime.data.DataLoader;
import dev.kiln.runtime.data.Dataset;
import dev.kiln.runtime.data.Example;
import dev.kiln.runtime.data.FashionMnist;
import dev.kiln.runtime.data.Subset;
import dev.kiln.runtime.optim.Adam;
import dev.kiln.runtime.plot.Plots;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * {@code autoencoder}: a convolutional autoencoder on FashionMNIST, the decoder's counterpart of the
 * tutorials' CNN: two stride-2 convolutions encode a [1, 28, 28] image into [32, 7, 7], two
 * transposed convolutions ({@link ConvTranspose2d}, output padding 1) decode it back to 28x28, a
 * Tanh matching the images' [-1, 1]; the loss is the MSE against the input itself, Adam lr 1e-3.
 * Prints the training and test losses per epoch and draws test images over their reconstructions.
 * Runs the compiled {@code KilnAutoencoder}, or with {@code --eager} the declaration itself.
 */
final class AutoencoderCommand {
  private AutoencoderCommand() {}

  /** Encoder and decoder, as PyTorch's tutorials write a convolutional autoencoder. */
  @Model(input = {1, 28, 28})
  static Sequential autoencoder() {
    return Sequential.builder()
        .add("encoder", Sequential.of(
            new Conv2d(1, 16, 3).stride(2).padding(1), new ReLU(),            // [16, 14, 14]
            new Conv2d(16, 32, 3).stride(2).padding(1), new ReLU()))          // [32, 7, 7]
        .add("decoder", Sequential.of(
            new ConvTranspose2d(32, 16, 3).stride(2).padding(1).outputPadding(1), new ReLU(),   // [16, 14, 14]
            new ConvTranspose2d(16, 1, 3).stride(2).padding(1).outputPadding(1), new Tanh()))   // [1, 28, 28]
        .build();
  }

  static void run(Args args) {
    int epochs = args.integer("epochs", 2, 1);
    int batch = args.integer("batch", 128, 1);
    double lr = args.positive("lr", 1e-3);
    long seed = args.integer("seed", 0, 0);
    int trainSize = args.integer("train-size", 0, 0);
    boolean eager = args.flag("eager");
    args.rejectUnknown("out", "device");
    Path out = args.outputDirectory("out", "runs/autoencoder");
    Device device = args.device();

    Kiln.manualSeed(seed);
    Dataset<Example> trainSet = FashionMnist.train();
    if (trainSize > 0) {
      if (trainSize > trainSet.size()) {
        throw new Args.UsageException("autoencoder: --train-size " + trainSize + " is more than the " + trainSet.size()
            + " training images");
      }
      trainSet = Subset.first(trainSet, trainSize);
    }
    Dataset<Example> testSet = Subset.first(FashionMnist.test(), Math.min(2000, FashionMnist.test().size()));
    Module net = (eager ? autoencoder() : new KilnAutoencoder()).to(device);
    System.out.println((eager ? "eager " : "compiled ") + net);
    MSELoss criterion = new MSELoss();
    Adam opt = new Adam(net.parameters(), lr);
    var test = new DataLoader<>(testSet, 500, false);
    System.out.printf(Locale.ROOT, "epoch 0: test reconstruction loss %.5f%n", testLoss(net, test, criterion, device));
    long start = System.nanoTime();
    for (int epoch = 1; epoch <= epochs; epoch++) {
      net.train();
      double sum = 0;
      int steps = 0;
      for (Batch b : new DataLoader<>(trainSet, batch, true).withProgress("epoch " + epoch)) {
        Tensor x = b.x().to(device);
        opt.zeroGrad();
        Tensor loss = criterion.apply(net.forward(x), x);
        loss.backward();
        opt.step();
        float value = loss.item();
        if (!Float.isFinite(value)) {
          throw new IllegalStateException("autoencoder: the loss is " + value + " at epoch " + epoch + ", step " + (steps + 1)
              + ": try a smaller --lr");
        }
        sum += value;
        steps++;
      }
      System.out.printf(Locale.ROOT, "epoch %d: train loss %.5f, test reconstruction loss %.5f%n", epoch, sum / steps,
          testLoss(net, test, criterion, device));
    }
    System.out.printf(Locale.ROOT, "trained %d epochs on %d images in %.1f s on %s%n", epochs, trainSet.size(),
        (System.nanoTime() - start) / 1e9, device);
    try {
      Path png = out.resolve("reconstructions.png");
      drawReconstructions(png, net, testSet, device);
      System.out.println("plot: " + png);
    } catch (NoClassDefFoundError e) { // a jlink'd runtime without AWT, as the GPU recipe's
      System.out.println("plot not written: this Java runtime has no java.desktop module, which drawing it needs ("
          + e.getMessage() + ")");
    }
  }

  /** The mean reconstruction loss over the test images, in evaluation mode without a tape. */
  static double testLoss(Module net, DataLoader<Example> test, MSELoss criterion, Device device) {
    net.eval();
    double sum = 0;
    int count = 0;
    try (var g = Kiln.noGrad()) {
      for (Batch b : test) {
        Tensor x = b.x().to(device);
        sum += criterion.apply(net.forward(x), x).item() * b.size();
        count += b.size();
      }
    }
    return sum / count;
  }

  private static void drawReconstructions(Path png, Module net, Dataset<Example> testSet, Device device) {
    net.eval();
    List<float[]> originals = new ArrayList<>(), made = new ArrayList<>();
    try (var g = Kiln.noGrad()) {
      for (int i = 0; i < 10; i++) {
        Tensor x = testSet.get(i).x();
        originals.add(x.toFloatArray());
        made.add(net.forward(x.unsqueeze(0).to(device)).toFloatArray());
      }
    }
    Plots.reconstructions(png, originals, made, 28, 28, 10);
  }
}
