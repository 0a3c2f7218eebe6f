package dev.kiln.samples;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.kiln.runtime.Kiln;
import dev.kiln.runtime.Tensor;
import dev.kiln.runtime.data.DataLoader;
import dev.kiln.runtime.data.Example;
import dev.kiln.runtime.data.TensorDataset;
import dev.kiln.samples.SweepCommand.Run;
import dev.kiln.samples.SweepCommand.Setting;
import dev.kiln.samples.SweepCommand.Vary;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Set;
import java.util.function.Supplier;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code sweep}: the tutorial's hyper-parameter experiments, on synthetic images and on FashionMNIST. */
class SweepCommandTest {
  private static final Setting BASE = new Setting("sgd", 0.01, 0, 64);

  /** Images whose label is the brightest of their first 10 pixels: learnable in a few steps. */
  private static TensorDataset learnable(int n, long seed) {
    Kiln.manualSeed(seed);
    Tensor x = Tensor.randn(n, 1, 28, 28);
    float[] pixels = x.toFloatArray();
    int[] classes = new int[n];
    for (int i = 0; i < n; i++) {
      for (int c = 1; c < 10; c++) {
        if (pixels[i * 784 + c] > pixels[i * 784 + classes[i]]) {
          classes[i] = c;
        }
      }
    }
    return new TensorDataset(x, Tensor.labels(classes));
  }

  private static List<Run> sweep(Vary vary, List<String> values, int epochs) {
    TensorDataset train = learnable(128, 1);
    DataLoader<Example> test = new DataLoader<>(learnable(64, 2), 64, false);
    return quietly(() -> SweepCommand.sweep(vary, values, BASE, KilnMlp::new, train, test, epochs, 3));
  }

  @Test
  void oneRunPerValueEachFromTheSameSeed() {
    List<Run> runs = sweep(Vary.LR, List.of("0.5", "0.001"), 2);
    assertEquals(List.of("lr=0.5", "lr=0.001"), runs.stream().map(Run::label).toList());
    Run fast = runs.get(0), slow = runs.get(1);
    assertEquals(0.5, fast.setting().lr());
    assertEquals(BASE.withLr(0.001), slow.setting());
    // 2 steps an epoch: the loss curve has a point after each step, at fractional epochs
    assertEquals(List.of(0.5, 1.0, 1.5, 2.0), fast.lossEpochs());
    assertEquals(2, fast.accuracies().size());
    assertEquals(fast.losses().get(0), slow.losses().get(0), 1e-6, "the same model and first batch: the same first loss");
    assertTrue(fast.finalLoss() < slow.finalLoss() - 0.05, "a larger step learns faster: " + fast.finalLoss() + " vs " + slow.finalLoss());

    // a run does not depend on the runs before it
    Run alone = sweep(Vary.LR, List.of("0.001"), 2).get(0);
    assertEquals(slow.losses(), alone.losses());
    assertEquals(slow.accuracies(), alone.accuracies());
  }

  @Test
  void aDivergingRunStopsAtItsFirstNonFiniteLossAndTheNextRunsAsUsual() {
    List<Run> runs = sweep(Vary.LR, List.of("1e30", "0.01"), 2);
    Run diverged = runs.get(0), fine = runs.get(1);
    assertTrue(Double.isNaN(diverged.finalLoss()));
    assertEquals(1, diverged.accuracies().size(), "stopped in its first epoch");
    assertTrue(diverged.losses().size() <= 2, "no points after the first non-finite loss: " + diverged.losses());
    assertTrue(diverged.losses().stream().anyMatch(l -> !Double.isFinite(l)), diverged.losses().toString());
    assertEquals(2, fine.accuracies().size());
    assertTrue(Double.isFinite(fine.finalLoss()));
    assertEquals(sweep(Vary.LR, List.of("0.01"), 2).get(0).losses(), fine.losses(), "unaffected by the run before");
  }

  @Test
  void batchAndOptimizerSweepsChangeOnlyTheirSetting() {
    List<Run> batches = sweep(Vary.BATCH, List.of("32", "128"), 1);
    assertEquals(List.of(BASE.withBatch(32), BASE.withBatch(128)), batches.stream().map(Run::setting).toList());
    assertEquals(4, batches.get(0).losses().size(), "128 samples in batches of 32: a point after each of 4 steps");
    assertEquals(1, batches.get(1).losses().size());

    List<Run> optimizers = sweep(Vary.OPTIMIZER, List.of("sgd", "adam"), 1);
    String table = SweepCommand.table(Vary.OPTIMIZER, optimizers);
    assertTrue(table.contains("| sgd | sgd | 0.01 | 0 | 64 |"), table);
    assertTrue(table.contains("| adam | adam | 0.01 | - | 64 |"), table);
    assertTrue(optimizers.get(0).finalLoss() != optimizers.get(1).finalLoss(), table);
    String csv = SweepCommand.csv(optimizers);
    assertTrue(csv.startsWith("run,series,epoch,value\noptimizer=sgd,train_loss,0.5000,"), csv);
    assertTrue(csv.contains("optimizer=adam,test_accuracy,1,"), csv);
  }

  @Test
  void badValuesAreNamedBeforeAnythingTrains() {
    var e = assertThrows(Args.UsageException.class, () -> sweep(Vary.LR, List.of("0.1", "fast"), 1));
    assertTrue(e.getMessage().contains("'fast'"), e.getMessage());
    e = assertThrows(Args.UsageException.class, () -> sweep(Vary.BATCH, List.of("32", "0"), 1));
    assertTrue(e.getMessage().contains("positive") && e.getMessage().contains("'0'"), e.getMessage());
    e = assertThrows(Args.UsageException.class, () -> sweep(Vary.BATCH, List.of("6.5"), 1));
    assertTrue(e.getMessage().contains("whole numbers"), e.getMessage());
    e = assertThrows(Args.UsageException.class, () -> sweep(Vary.OPTIMIZER, List.of("rmsprop"), 1));
    assertTrue(e.getMessage().contains("sgd or adam") && e.getMessage().contains("'rmsprop'"), e.getMessage());
    e = assertThrows(Args.UsageException.class, () -> sweep(Vary.LR, List.of("0.1", " 0.1"), 1));
    assertTrue(e.getMessage().contains("twice"), e.getMessage());
    e = assertThrows(Args.UsageException.class, () -> run("--vary", "all", "--values", "1,2"));
    assertTrue(e.getMessage().contains("--values needs one setting"), e.getMessage());
    e = assertThrows(Args.UsageException.class, () -> run("--values", ","));
    assertTrue(e.getMessage().contains("--values takes comma-separated values, none of them empty, got ','"), e.getMessage());
    e = assertThrows(Args.UsageException.class, () -> run("--vary", "momentum"));
    assertTrue(e.getMessage().contains("'momentum'"), e.getMessage());
  }

  @Test
  void commandOnFashionMnistWritesTableCurvesAndCsv(@TempDir Path dir) throws IOException {
    assumeTrue(Files.isDirectory(Path.of("/usr/share/datasets/fashion-mnist")),
        "FashionMNIST is absent (apt-get install dataset-fashion-mnist)");
    String text = SampleCommandsTest.printed(
        () -> run("--vary", "optimizer", "--train-size", "600", "--epochs", "1", "--device", "cpu", "--out", dir.toString()));
    assertTrue(text.contains("on 600 FashionMNIST training images"), text);
    assertTrue(text.contains("| optimizer | optimizer | lr | momentum | batch |"), text);
    assertTrue(text.lines().anyMatch(l -> l.startsWith("RESULT sweep=optimizer best=")), text);
    assertTrue(Files.size(dir.resolve("sweep-optimizer.png")) > 10_000);
    List<String> csv = Files.readAllLines(dir.resolve("sweep-optimizer.csv"));
    assertEquals(2 * (10 + 1) + 1, csv.size(), "header, and per run 10 loss points and one accuracy: " + csv);
  }

  private static void run(String... options) {
    String[] args = new String[options.length + 1];
    args[0] = "sweep";
    System.arraycopy(options, 0, args, 1, options.length);
    SweepCommand.run(new Args("sweep", args, 1, Set.of("eager")));
  }

  private static <T> T quietly(Supplier<T> work) {
    PrintStream stdout = System.out;
    System.setOut(new PrintStream(new ByteArrayOutputStream(), true, StandardCharsets.UTF_8));
    try {
      return work.get();
    } finally {
      System.setOut(stdout);
    }
  }
}
