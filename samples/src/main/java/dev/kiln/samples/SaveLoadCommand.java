package dev.kiln.samples;

import dev.kiln.dsl.Module;
import dev.kiln.runtime.Device;
import dev.kiln.runtime.Kiln;
import dev.kiln.runtime.Tensor;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;

/**
 * {@code save-load}: the tutorials' state_dict section. Trains the add-two-numbers model ({@code
 * Sequential(Linear(2, 8), ReLU(), Linear(8, 1))}, as {@code regression} does), prints its state
 * dict ({@code 0.weight}, {@code 0.bias}, {@code 2.weight}, {@code 2.bias}), saves it with {@link
 * Module#save}, builds a fresh model with the same code, loads the file into it with {@link
 * Module#load}, moves it to the device and predicts [[8,9],[10,11],[1.5,2.5]], showing that both
 * models give the same outputs. The file is safetensors with PyTorch's key names, so {@code
 * safetensors.torch.load_file} and {@code load_state_dict(strict=True)} read it into the tutorial's
 * PyTorch model (the dsl module's StateDictTorchInteropTest does that for a model of its own).
 */
final class SaveLoadCommand {
  private SaveLoadCommand() {}

  static void run(Args args) {
    Path given = args.outputFile("file");
    int epochs = args.integer("epochs", 50, 1);
    long seed = args.integer("seed", 0, 0);
    args.rejectUnknown("device");
    Device device = args.device();
    try {
      Path path = given != null ? given : Files.createTempFile("kiln-model-", ".safetensors");
      try {
        float difference = roundTrip(path, epochs, seed, device);
        System.out.printf(Locale.ROOT, "largest difference between the outputs: %s -> %s%n",
            difference, difference == 0 ? "identical" : "DIFFERENT");
      } finally {
        if (given == null) {
          Files.deleteIfExists(path);
        }
      }
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /**
   * Trains for {@code epochs} on {@code device}, saves to {@code path}, loads into a fresh model
   * moved there; returns the largest difference between the two models' predictions.
   */
  static float roundTrip(Path path, int epochs, long seed, Device device) throws IOException {
    Kiln.manualSeed(seed);
    Module model = Models.twoLayerRegression().to(device);
    List<Double> losses = RegressionCommand.train(model, epochs, 2, 0.001);
    System.out.printf(Locale.ROOT, "trained %d epochs on %s: last loss %.6f%n", epochs, device,
        losses.get(losses.size() - 1));
    System.out.println(model.stateDict());
    model.save(path);
    System.out.println("saved to " + path + " (" + Files.size(path) + " bytes)");

    Module loaded = Models.twoLayerRegression(); // the same code, freshly initialised: other weights
    loaded.load(path);
    loaded.to(device);
    System.out.println("loaded into a fresh " + loaded.getClass().getSimpleName() + " on " + device);

    Tensor before = RegressionCommand.predict(model);
    Tensor after = RegressionCommand.predict(loaded);
    System.out.println("trained model: " + before);
    System.out.println("loaded model:  " + after);
    float[] a = before.toFloatArray();
    float[] b = after.toFloatArray();
    float largest = 0;
    for (int i = 0; i < a.length; i++) {
      largest = Math.max(largest, Math.abs(a[i] - b[i]));
    }
    return largest;
  }
}
