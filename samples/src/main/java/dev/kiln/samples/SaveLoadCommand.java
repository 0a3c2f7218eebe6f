package dev.kiln.samples;

import dev.kiln.dsl.CrossEntropyLoss;
import dev.kiln.dsl.Module;
import dev.kiln.runtime.Device;
import dev.kiln.runtime.Kiln;
import dev.kiln.runtime.Tensor;
import dev.kiln.runtime.data.Batch;
import dev.kiln.runtime.data.DataLoader;
import dev.kiln.runtime.data.TensorDataset;
import dev.kiln.runtime.optim.SGD;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Locale;
import java.util.Random;

/**
 * {@code save-load}: the tutorials' "save the state_dict, build a fresh model, load it" round trip.
 * Trains the FashionMNIST MLP for one epoch on random images and labels, saves it with {@link
 * Module#save}, loads the file into a new MLP with {@link Module#load} and shows that both give
 * the same outputs.
 */
final class SaveLoadCommand {
  private SaveLoadCommand() {}

  static void run(Args args) {
    String file = args.string("file", null);
    long seed = args.integer("seed", 0, 0);
    Device device = args.device();
    args.rejectUnknown();
    try {
      Path path = file != null ? Path.of(file) : Files.createTempFile("kiln-mlp-", ".safetensors");
      float difference = roundTrip(path, seed, device);
      System.out.printf(Locale.ROOT, "largest difference between the outputs: %s -> %s%n",
          difference, difference == 0 ? "identical" : "DIFFERENT");
      if (file == null) {
        Files.delete(path);
      }
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** Trains on {@code device}, saves to {@code path}, loads into a fresh MLP there; returns the largest output difference. */
  static float roundTrip(Path path, long seed, Device device) throws IOException {
    Kiln.manualSeed(seed);
    Module trained = Models.mlp().to(device);
    train(trained, randomImages(256, seed));
    trained.save(path);
    System.out.println("saved " + trained.stateDict().keySet() + " to " + path + " (" + Files.size(path) + " bytes)");

    Module loaded = Models.mlp(); // freshly initialised, different weights
    loaded.load(path);
    loaded.to(device);
    System.out.println("loaded into a fresh " + loaded.getClass().getSimpleName() + " on " + device);

    Tensor x = Tensor.randn(4, 1, 28, 28).to(device);
    trained.eval();
    loaded.eval();
    float[] before;
    float[] after;
    try (var g = Kiln.noGrad()) {
      before = trained.apply(x).toFloatArray();
      after = loaded.apply(x).toFloatArray();
    }
    System.out.println("trained model, first row: " + Arrays.toString(Arrays.copyOf(before, 10)));
    System.out.println("loaded model,  first row: " + Arrays.toString(Arrays.copyOf(after, 10)));
    float largest = 0;
    for (int i = 0; i < before.length; i++) {
      largest = Math.max(largest, Math.abs(before[i] - after[i]));
    }
    return largest;
  }

  /** {@code count} random [1, 28, 28] images with random labels 0..9. */
  private static TensorDataset randomImages(int count, long seed) {
    Random random = new Random(seed);
    int[] labels = new int[count];
    Arrays.setAll(labels, i -> random.nextInt(10));
    return new TensorDataset(Tensor.randn(count, 1, 28, 28), Tensor.labels(labels));
  }

  private static void train(Module net, TensorDataset data) {
    var criterion = new CrossEntropyLoss();
    var opt = new SGD(net.parameters(), 0.01).momentum(0.9);
    Device device = net.parameters().get(0).device();
    net.train();
    double loss = 0;
    int steps = 0;
    for (Batch b : new DataLoader<>(data, 64, true)) {
      opt.zeroGrad();
      Tensor value = criterion.apply(net.apply(b.x().to(device)), b.y().to(device));
      value.backward();
      opt.step();
      loss += value.item();
      steps++;
    }
    System.out.printf(Locale.ROOT, "trained one epoch on %d random images: mean loss %.4f%n", data.size(), loss / steps);
  }
}
