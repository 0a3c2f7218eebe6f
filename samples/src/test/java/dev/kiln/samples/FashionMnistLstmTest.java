package dev.kiln.samples;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kiln.dsl.Module;
import dev.kiln.runtime.DType;
import dev.kiln.runtime.Kiln;
import dev.kiln.runtime.Tensor;
import dev.kiln.runtime.data.DataLoader;
import dev.kiln.runtime.data.Dataset;
import dev.kiln.runtime.data.Example;
import dev.kiln.runtime.data.TensorDataset;
import dev.kiln.samples.FashionMnistCommand.Outcome;
import dev.kiln.samples.FashionMnistCommand.Training;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code fashion-mnist --model lstm}: the LSTM over the image's 28 rows, run by the command on small
 * FashionMNIST files written here (the real ones are not needed), compiled and eager trained alike.
 */
class FashionMnistLstmTest {
  @TempDir Path dir;

  /** An IDX file of unsigned bytes (MNIST's layout): zeros, type 8, the rank, each dimension, the data. */
  private static byte[] idx(int[] dims, byte[] data) {
    ByteBuffer b = ByteBuffer.allocate(4 + 4 * dims.length + data.length);
    b.put((byte) 0).put((byte) 0).put((byte) 8).put((byte) dims.length);
    for (int d : dims) {
      b.putInt(d);
    }
    return b.put(data).array();
  }

  /** {@code n} random 28x28 images and labels, as FashionMNIST's files name them ({@code prefix} train or t10k). */
  private static void writeSplit(Path dir, String prefix, int n) throws IOException {
    byte[] pixels = new byte[n * 28 * 28];
    byte[] labels = new byte[n];
    var random = new java.util.Random(n);
    random.nextBytes(pixels);
    for (int i = 0; i < n; i++) {
      labels[i] = (byte) random.nextInt(10);
    }
    Files.write(dir.resolve(prefix + "-images-idx3-ubyte"), idx(new int[] {n, 28, 28}, pixels));
    Files.write(dir.resolve(prefix + "-labels-idx1-ubyte"), idx(new int[] {n}, labels));
  }

  private static String run(String... options) {
    String[] args = new String[options.length + 1];
    args[0] = "fashion-mnist";
    System.arraycopy(options, 0, args, 1, options.length);
    return SampleCommandsTest.printed(() -> FashionMnistCommand.run(new Args("fashion-mnist", args, 1, Set.of("eager"))));
  }

  @Test
  void commandTrainsTheCompiledAndTheEagerLstm() throws IOException {
    Path data = Files.createDirectories(dir.resolve("data"));
    writeSplit(data, "train", 48);
    writeSplit(data, "t10k", 24);
    String before = System.getProperty("kiln.data");
    System.setProperty("kiln.data", data.toString());
    try {
      for (boolean eager : new boolean[] {false, true}) {
        Path out = dir.resolve(eager ? "eager" : "compiled");
        String text = eager
            ? run("--model", "lstm", "--epochs", "1", "--batch", "16", "--device", "cpu", "--out", out.toString(), "--eager")
            : run("--model", "lstm", "--epochs", "1", "--batch", "16", "--device", "cpu", "--out", out.toString());
        String mode = eager ? "eager" : "compiled";
        assertTrue(text.contains("FashionMNIST: 48 training and 24 test images; " + mode + " mode; device cpu"), text);
        assertTrue(text.contains((eager ? "\nFashionLstm(" : "\nKilnFashionLstm(") + "\n  (lstm): LSTM(28, 128, batch_first=True)\n"
            + "  (head): Linear(in_features=128, out_features=10, bias=True)\n)"), text);
        assertTrue(text.contains("epoch 1/1  train_loss "), text);
        assertTrue(text.lines().anyMatch(l -> l.startsWith("RESULT model=lstm mode=" + mode + " epochs=1 test_accuracy=")), text);
        for (String plot : List.of("training.png", "confusion.png", "predictions.png")) {
          assertTrue(Files.size(out.resolve(plot)) > 1000, plot + "\n" + text);
        }
      }
    } finally {
      if (before == null) {
        System.clearProperty("kiln.data");
      } else {
        System.setProperty("kiln.data", before);
      }
    }
  }

  @Test
  void badModelIsRejectedBeforeAnythingLoads() {
    var e = assertThrows(Args.UsageException.class, () -> run("--model", "lstn"));
    assertEquals("fashion-mnist: --model must be mlp, cnn, resnet, transformer or lstm, got 'lstn'", e.getMessage());
  }

  /**
   * Two epochs of three shuffled batches with SGD and momentum: the compiled class gives eager mode's
   * losses and test accuracies, and ends with its parameters.
   */
  @Test
  void compiledTrainsAsEager() throws IOException {
    Kiln.manualSeed(11);
    int n = 24;
    float[] labels = new float[n];
    for (int i = 0; i < n; i++) {
      labels[i] = Kiln.generator().nextInt(10);
    }
    Dataset<Example> trainSet = new TensorDataset(Tensor.randn(n, 1, 28, 28), Tensor.wrap(labels, DType.INT32, n));
    DataLoader<Example> test = new DataLoader<>(trainSet, 12, false);
    Training t = new Training(2, 8, 0.05, 0.9, null, null);

    Kiln.manualSeed(3);
    Module eager = new FashionLstm();
    Outcome e = FashionMnistCommand.train(eager, trainSet, test, t);
    Kiln.manualSeed(3);
    Module compiled = new KilnFashionLstm();
    Outcome c = FashionMnistCommand.train(compiled, trainSet, test, t);

    assertEquals(2, c.losses().size());
    for (int i = 0; i < 2; i++) {
      assertEquals(e.losses().get(i), c.losses().get(i), 1e-5 * e.losses().get(i), "mean loss of epoch " + (i + 1));
      assertEquals(e.accuracies().get(i), c.accuracies().get(i), 1e-9, "test accuracy after epoch " + (i + 1));
    }
    assertTrue(c.losses().get(1) < c.losses().get(0), "the loss falls: " + c.losses());
    Map<String, Tensor> ep = eager.stateDict();
    Map<String, Tensor> cp = compiled.stateDict();
    assertEquals(List.of("lstm.weight_ih_l0", "lstm.weight_hh_l0", "lstm.bias_ih_l0", "lstm.bias_hh_l0", "head.weight", "head.bias"),
        List.copyOf(cp.keySet()));
    ep.forEach((k, v) -> {
      assertArrayEquals(v.shape(), cp.get(k).shape(), k);
      assertEquals(0, IntermediateCommand.maxDifference(cp.get(k), v), 1e-5, k);
    });
  }
}
