package dev.kiln.samples;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kiln.dsl.Module;
import dev.kiln.dsl.SmoothL1Loss;
import dev.kiln.runtime.Kiln;
import dev.kiln.runtime.Tensor;
import dev.kiln.runtime.io.SafeTensors;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The tutorial ports of the samples: regression, intermediate outputs, save/load, the CIFAR-10 network. */
class SampleCommandsTest {
  @Test
  void regressionLearnsToAddTwoNumbers() {
    // The tutorial's settings: 50 epochs of 2 shuffled batches of 2, lr 0.001: the loss falls.
    Kiln.manualSeed(0);
    Module net = Models.twoLayerRegression();
    List<Double> history = RegressionCommand.train(net, 50, 2, 0.001);
    assertEquals(100, history.size());
    double first = (history.get(0) + history.get(1)) / 2;
    double last = (history.get(98) + history.get(99)) / 2;
    assertTrue(last < first / 5, "loss " + first + " -> " + last);
    // Trained longer, it adds.
    Kiln.manualSeed(0);
    net = Models.twoLayerRegression();
    RegressionCommand.train(net, 1000, 2, 0.001);
    float[] predicted = RegressionCommand.predict(net).toFloatArray();
    float[] expected = {17, 21, 4};
    for (int i = 0; i < expected.length; i++) {
      assertEquals(expected[i], predicted[i], 0.5, "prediction " + i + " of " + java.util.Arrays.toString(predicted));
    }
  }

  /**
   * The tutorial's network by hand (two weight parameters from Tensor.rand, multiplied with matmul): compiled, it
   * learns to add as the tutorial's does, and it gives eager mode's loss at every step, its weights and predictions.
   */
  @Test
  void byHandRegressionLearnsAndItsCompiledFormAgreesWithEager() {
    Kiln.manualSeed(0);
    Module eager = new ByHandRegression();
    Kiln.manualSeed(0);
    Module compiled = new KilnByHandRegression();
    assertEquals(List.of("input_to_hidden_layer", "hidden_to_output_layer"), List.copyOf(compiled.namedParameters().keySet()));
    Kiln.manualSeed(1); // the same shuffles for both
    List<Double> e = RegressionCommand.train(eager, 50, 2, 0.001);
    Kiln.manualSeed(1);
    List<Double> c = RegressionCommand.train(compiled, 50, 2, 0.001);
    assertEquals(100, c.size());
    for (int i = 0; i < c.size(); i++) {
      assertEquals(e.get(i), c.get(i), 1e-4 * Math.max(1, e.get(i)), "loss of step " + i);
    }
    double first = (c.get(0) + c.get(1)) / 2;
    double last = (c.get(98) + c.get(99)) / 2;
    assertTrue(last < first / 5, "loss " + first + " -> " + last);
    var cp = compiled.namedParameters();
    eager.namedParameters().forEach((k, v) -> assertEquals(0, IntermediateCommand.maxDifference(cp.get(k), v), 1e-4, k));
    float[] expected = RegressionCommand.predict(eager).toFloatArray();
    float[] predicted = RegressionCommand.predict(compiled).toFloatArray();
    float[] sums = {17, 21, 4};
    for (int i = 0; i < expected.length; i++) {
      assertEquals(expected[i], predicted[i], 1e-3, "prediction " + i);
      assertEquals(sums[i], predicted[i], 2, "prediction " + i + " of " + java.util.Arrays.toString(predicted));
    }
  }

  @Test
  void regressionCommandTrainsTheByHandModel(@TempDir Path dir) {
    String text = printed(() -> RegressionCommand.run(new Args("regression", new String[] {"regression", "--model", "by-hand",
        "--epochs", "5", "--out", dir.toString(), "--device", "cpu"}, 1, Set.of("eager"))));
    assertTrue(text.startsWith("KilnByHandRegression("), text);
    assertTrue(text.contains("trained 5 epochs (10 steps of batch 2)"), text);
    var bad = org.junit.jupiter.api.Assertions.assertThrows(Args.UsageException.class, () -> RegressionCommand.run(
        new Args("regression", new String[] {"regression", "--model", "linear"}, 1, Set.of("eager"))));
    assertEquals("regression: --model must be sequential or by-hand, got 'linear'", bad.getMessage());
  }

  @Test
  void regressionCommandTrainsWithARobustLoss(@TempDir Path dir) {
    String text = printed(() -> RegressionCommand.run(new Args("regression", new String[] {"regression", "--loss", "huber",
        "--epochs", "5", "--out", dir.toString(), "--device", "cpu"}, 1, Set.of("eager"))));
    assertTrue(text.contains("trained 5 epochs (10 steps of batch 2) on cpu, lr 0.001, HuberLoss()"), text);
    Kiln.manualSeed(0);
    List<Double> history = RegressionCommand.train(Models.twoLayerRegression(), 200, 2, 0.001, new SmoothL1Loss());
    assertTrue(history.get(history.size() - 1) < history.get(0), "smooth L1 loss fell from " + history.get(0) + " to "
        + history.get(history.size() - 1));
    var bad = org.junit.jupiter.api.Assertions.assertThrows(Args.UsageException.class, () -> RegressionCommand.run(
        new Args("regression", new String[] {"regression", "--loss", "hinge"}, 1, Set.of("eager"))));
    assertEquals("regression: --loss must be mse, l1, smooth-l1 or huber, got 'hinge'", bad.getMessage());
  }

  /**
   * A user's mistakes found before any work (no dataset read, no device probed), each named: the qa pass of
   * 2026-12-07 (docs/design-notes.md, "Command-line quality pass").
   */
  @Test
  void commandLineMistakesAreNamedBeforeAnyWork(@TempDir Path dir) throws IOException {
    Path text = Files.writeString(dir.resolve("notes.txt"), "not a checkpoint");
    String notCheckpoint = refusal(
        () -> FashionMnistCommand.run(Main.parse(new String[] {"fashion-mnist", "--resume", text.toString()})));
    assertTrue(notCheckpoint.startsWith("fashion-mnist: --resume " + text + " is not a checkpoint that --checkpoint writes ("),
        notCheckpoint);
    assertEquals("fashion-mnist: --resume " + dir + " is a directory; give a file",
        refusal(() -> FashionMnistCommand.run(Main.parse(new String[] {"fashion-mnist", "--resume", dir.toString()}))));
    assertEquals("bench: --peer " + dir + "/peer.py: no such file (--peer none times Kiln alone)",
        refusal(() -> BenchCommand.run(Main.parse(new String[] {"bench", "--peer", dir + "/peer.py"}))));
    assertEquals("bench: --only chooses among the cases of --model layers",
        refusal(() -> BenchCommand.run(Main.parse(new String[] {"bench", "--model", "mlp", "--only", "conv"}))));
    assertEquals("sweep: --optimizer must be sgd or adam, got 'rmsprop'",
        refusal(() -> SweepCommand.run(Main.parse(new String[] {"sweep", "--optimizer", "rmsprop"}))));
    assertEquals("sweep: --values for optimizer must be sgd or adam, got 'rmsprop'",
        refusal(() -> SweepCommand.run(Main.parse(new String[] {"sweep", "--vary", "optimizer", "--values", "sgd,rmsprop"}))));
    assertEquals("sweep: --values for lr must be numbers, got '1d'",
        refusal(() -> SweepCommand.run(Main.parse(new String[] {"sweep", "--values", "0.1,1d"}))));
    assertEquals("char-gpt: --text " + dir + " is a directory; give a file",
        refusal(() -> CharGptCommand.run(Main.parse(new String[] {"char-gpt", "--text", dir.toString()}))));
    // an option of another command: the message lists this one's
    assertEquals("reverse: unknown option --epochs (it takes --batch, --device, --eager, --lr, --seed, --steps)",
        refusal(() -> ReverseCommand.run(Main.parse(new String[] {"reverse", "--epochs", "1"}))));
    // --eager is cifar10's flag, not an option missing its value
    assertEquals("cifar10: --epochs expects a whole number, got 'x'",
        refusal(() -> Cifar10Command.run(Main.parse(new String[] {"cifar10", "--eager", "--epochs", "x"}))));
  }

  /** The message of the usage error {@code run} throws. */
  private static String refusal(org.junit.jupiter.api.function.Executable run) {
    return org.junit.jupiter.api.Assertions.assertThrows(Args.UsageException.class, run).getMessage();
  }

  @Test
  void intermediateReturnsOutputAndHiddenActivation() {
    var net = new IntermediateCommand.HiddenNet();
    var out = net.forwardWithHidden(RegressionCommand.matrix(RegressionCommand.X));
    assertArrayEquals(new int[] {4, 1}, out.output().shape());
    assertArrayEquals(new int[] {4, 8}, out.hidden().shape());
    for (float v : out.hidden().toFloatArray()) {
      assertEquals(Math.max(v, 0), v); // after the ReLU
    }
  }

  @Test
  void compiledHiddenNetReturnsTheSameOutputsAndGradients() {
    Kiln.manualSeed(1);
    var eager = new IntermediateCommand.HiddenNet();
    Kiln.manualSeed(1);
    IntermediateCommand.HiddenNet compiled = new KilnIntermediateCommand_HiddenNet();
    Tensor x = RegressionCommand.matrix(RegressionCommand.X);
    var e = eager.forwardWithHidden(x);
    var c = compiled.forwardWithHidden(x);
    assertEquals(0, IntermediateCommand.maxDifference(c.hidden(), e.hidden()), 1e-5);
    assertEquals(0, IntermediateCommand.maxDifference(c.output(), e.output()), 1e-5);
    // a loss on both outputs reaches every parameter as in eager mode
    e.output().sum().add(e.hidden().mean()).backward();
    c.output().sum().add(c.hidden().mean()).backward();
    var cp = compiled.namedParameters();
    eager.namedParameters().forEach((k, v) ->
        assertEquals(0, IntermediateCommand.maxDifference(cp.get(k).grad(), v.grad()), 1e-5, k));
  }

  /**
   * The siamese network's compiled forwardPair (one tower applied to both inputs): eager's scores, every
   * parameter's gradient (the tower's summed over its two uses) and each image's gradient, over two batch sizes.
   */
  @Test
  void compiledSiameseNetMatchesEagerOnBothInputs() {
    Kiln.manualSeed(2);
    var eager = new PairsCommand.SiameseNet();
    Kiln.manualSeed(2);
    PairsCommand.SiameseNet compiled = new KilnPairsCommand_SiameseNet();
    for (int n : new int[] {6, 3}) {
      eager.zeroGrad(true);
      compiled.zeroGrad(true);
      Tensor a = Tensor.randn(n, 1, 28, 28);
      Tensor b = Tensor.randn(n, 1, 28, 28);
      Tensor ae = a.clone().requiresGrad(true), be = b.clone().requiresGrad(true);
      Tensor ac = a.clone().requiresGrad(true), bc = b.clone().requiresGrad(true);
      Tensor se = eager.forwardPair(ae, be);
      Tensor sc = compiled.forwardPair(ac, bc);
      assertArrayEquals(new int[] {n, 2}, sc.shape());
      assertEquals(0, IntermediateCommand.maxDifference(sc, se), 1e-5);
      Tensor same = Tensor.labels(java.util.stream.IntStream.range(0, n).map(i -> i % 2).toArray());
      new dev.kiln.dsl.CrossEntropyLoss().apply(se, same).backward();
      new dev.kiln.dsl.CrossEntropyLoss().apply(sc, same).backward();
      assertEquals(0, IntermediateCommand.maxDifference(ac.grad(), ae.grad()), 1e-6, "a's gradient");
      assertEquals(0, IntermediateCommand.maxDifference(bc.grad(), be.grad()), 1e-6, "b's gradient");
      var cp = compiled.namedParameters();
      eager.namedParameters().forEach((k, v) ->
          assertEquals(0, IntermediateCommand.maxDifference(cp.get(k).grad(), v.grad()), 1e-5, k));
      // forward: one image's embedding, compiled from its own body
      assertEquals(0, IntermediateCommand.maxDifference(compiled.forward(a), eager.forward(a)), 1e-5);
    }
  }

  /** Half the pairs of a batch show one class (where the batch has another image of it), the labels say which. */
  @Test
  void pairsAreHalfOfOneClassAndLabelledSo() {
    int[] classes = {0, 1, 2, 0, 1, 2, 0, 1, 2, 3};
    Tensor x = Tensor.arange(classes.length).reshape(classes.length, 1); // each image its own index
    var p = PairsCommand.Pairs.of(new dev.kiln.runtime.data.Batch(x, Tensor.labels(classes)), new java.util.Random(3),
        dev.kiln.runtime.Device.cpu());
    float[] partner = p.b().toFloatArray();
    int[] same = p.same().toIntArray();
    for (int i = 0; i < classes.length; i++) {
      int j = (int) partner[i];
      assertTrue(j != i, "image " + i + " paired with itself");
      assertEquals(classes[i] == classes[j] ? 1 : 0, same[i], "label of pair " + i);
      assertEquals(i % 2 == 0 ? 1 : 0, same[i], "pair " + i + " (each class has another image here)");
    }
  }

  /** A short run on FashionMNIST learns to tell pairs apart, compiled. */
  @Test
  void pairsCommandLearnsOnFashionMnist() {
    org.junit.jupiter.api.Assumptions.assumeTrue(Files.isDirectory(Path.of("/usr/share/datasets/fashion-mnist"))
        || System.getenv("KILN_DATA") != null, "FashionMNIST is not installed");
    String text = printed(() -> PairsCommand.run(new Args("pairs",
        new String[] {"pairs", "--epochs", "1", "--train-size", "6000", "--device", "cpu"}, 1, Set.of("eager"))));
    assertTrue(text.contains("compiled KilnPairsCommand_SiameseNet("), text);
    Matcher m = Pattern.compile("epoch 1: train loss [0-9.]+, test pair accuracy ([0-9.]+)%").matcher(text);
    assertTrue(m.find(), text);
    assertTrue(Double.parseDouble(m.group(1)) > 75, "accuracy " + m.group(1) + "%, chance is 50%");
  }

  /** The seq2seq sample learns to reverse digits in a few hundred steps, compiled: the decoder starts from the encoder's h_n. */
  @Test
  void reverseCommandLearnsToReverseDigits() {
    String text = printed(() -> ReverseCommand.run(new Args("reverse",
        new String[] {"reverse", "--steps", "300", "--device", "cpu"}, 1, Set.of("eager"))));
    assertTrue(text.contains("compiled KilnReverseCommand_Reverser("), text);
    Matcher m = Pattern.compile("step 300: train loss [0-9.]+, test digits ([0-9.]+)%, sequences ([0-9.]+)%").matcher(text);
    assertTrue(m.find(), text);
    assertTrue(Double.parseDouble(m.group(1)) > 90, "digits " + m.group(1) + "%, chance is 10%\n" + text);
  }

  @Test
  void intermediateCommandPrintsTheCompiledHiddenOutput() {
    String text = printed(() -> IntermediateCommand.run(new Args("intermediate", new String[] {"intermediate"}, 1, Set.of())));
    assertTrue(text.contains("3. the compiled KilnIntermediateCommand_HiddenNet.forwardWithHidden(x), hidden:"), text);
    assertTrue(text.contains("equals eager: hidden true, output true"), text);
  }

  @Test
  void benchPrintsOneRowPerTaskWithoutAPeer() {
    String[] args = {"bench", "--model", "mlp", "--steps", "2", "--rounds", "2", "--peer", "none"};
    String text = printed(() -> BenchCommand.run(new Args("bench", args, 1, Set.of())));
    assertTrue(text.contains("median of 2 rounds taken in turn"), text);
    long rows = text.lines().filter(l -> l.startsWith("| train step | mlp") || l.startsWith("| inference | mlp")).count();
    assertEquals(4, rows, text);
    assertTrue(text.contains("| train step | mlp | 64 |") && text.contains("| - | - | - |"), "no peer: its columns are '-'\n" + text);
  }

  @Test
  void benchTimesTheTransformerEagerAndCompiled() {
    String[] args = {"bench", "--model", "transformer", "--steps", "2", "--peer", "none"};
    String text = printed(() -> BenchCommand.run(new Args("bench", args, 1, Set.of())));
    List<String> rows = text.lines().filter(l -> l.contains("| transformer | 64 |")).toList();
    assertEquals(2, rows.size(), text);
    assertTrue(rows.stream().allMatch(r -> !r.contains("| - | - | - | - |")), "eager and compiled timed\n" + text);
  }

  /** What {@code command} prints on standard output. */
  static String printed(Runnable command) {
    PrintStream stdout = System.out;
    ByteArrayOutputStream captured = new ByteArrayOutputStream();
    System.setOut(new PrintStream(captured, true, StandardCharsets.UTF_8));
    try {
      command.run();
    } finally {
      System.setOut(stdout);
    }
    return captured.toString(StandardCharsets.UTF_8);
  }

  @Test
  void regressionCommandPrintsPredictionsAndPlotsTheLoss(@TempDir Path dir) {
    String out = printed(() -> RegressionCommand.run(new Args("regression",
        new String[] {"regression", "--epochs", "3", "--out", dir.toString(), "--device", "cpu"}, 1, Set.of())));
    assertTrue(out.contains("trained 3 epochs (6 steps of batch 2) on cpu, lr 0.001"), out);
    // The three predictions, printed as PyTorch prints a [3, 1] tensor: tensor([[ 8.9718],\n        [10.9116], ...
    assertTrue(out.matches("(?s).*\ntensor\\(\\[(\\[ *-?\\d+\\.\\d{4}\\],\n {8}){2}\\[ *-?\\d+\\.\\d{4}\\]\\]\\)\n.*"), out);
    assertTrue(Files.isRegularFile(dir.resolve("loss.png")), out);
  }

  @Test
  void regressionStopsAtANonFiniteLoss() {
    Kiln.manualSeed(0);
    var e = org.junit.jupiter.api.Assertions.assertThrows(TrainingLoop.DivergedException.class,
        () -> RegressionCommand.train(Models.twoLayerRegression(), 50, 2, 1e30));
    assertTrue(e.getMessage().startsWith("regression: the loss is "), e.getMessage());
  }

  /** The tutorial's round trip: a fresh model loaded from the file predicts exactly what the trained one does. */
  @Test
  void saveAndLoadGiveIdenticalOutputs(@TempDir Path dir) throws IOException {
    Path file = dir.resolve("mymodel.safetensors");
    assertEquals(0f, SaveLoadCommand.roundTrip(file, 50, 1, dev.kiln.runtime.Device.cpu()));
    assertEquals(List.of("0.weight", "0.bias", "2.weight", "2.bias"), List.copyOf(SafeTensors.read(file).keySet()));
  }

  @Test
  void autoencoderLearnsToReconstructAndDrawsTheReconstructions(@TempDir Path dir) {
    String out = printed(() -> AutoencoderCommand.run(new Args("autoencoder", new String[] {"autoencoder", "--epochs", "1",
        "--train-size", "2048", "--batch", "32", "--out", dir.toString()}, 1, Set.of())));
    Matcher before = Pattern.compile("epoch 0: test reconstruction loss ([0-9.]+)").matcher(out);
    Matcher after = Pattern.compile("epoch 1: train loss [0-9.]+, test reconstruction loss ([0-9.]+)")
        .matcher(out);
    assertTrue(before.find() && after.find(), out);
    assertTrue(Double.parseDouble(after.group(1)) < 0.5 * Double.parseDouble(before.group(1)), out);
    assertTrue(out.contains("ConvTranspose2d(32, 16, kernel_size=(3, 3), stride=(2, 2), padding=(1, 1), output_padding=(1, 1))"), out);
    assertTrue(Files.isRegularFile(dir.resolve("reconstructions.png")));
  }

  @Test
  void cifar10NetworkMapsImagesToTenScores() {
    Module net = Models.cifar10();
    try (var g = Kiln.noGrad()) {
      assertArrayEquals(new int[] {2, 10}, net.apply(Tensor.randn(2, 3, 32, 32)).shape());
    }
    assertArrayEquals(new int[] {-1, 10}, net.outputShape(new int[] {-1, 3, 32, 32}));
  }

  @Test
  void cifar10NetworkSummary() {
    assertEquals("""
----------------------------------------------------------------
        Layer (type)               Output Shape         Param #
================================================================
            Conv2d-1           [-1, 32, 32, 32]           2,432
         MaxPool2d-2           [-1, 32, 16, 16]               0
            Conv2d-3           [-1, 32, 16, 16]          25,632
         MaxPool2d-4             [-1, 32, 8, 8]               0
            Conv2d-5             [-1, 64, 8, 8]          51,264
         MaxPool2d-6             [-1, 64, 4, 4]               0
           Flatten-7                 [-1, 1024]               0
            Linear-8                   [-1, 64]          65,600
            Linear-9                   [-1, 10]             650
================================================================
Total params: 145,578
Trainable params: 145,578
Non-trainable params: 0
----------------------------------------------------------------
Input size (MB): 0.01
Forward/backward pass size (MB): 0.44
Params size (MB): 0.56
Estimated Total Size (MB): 1.01
----------------------------------------------------------------""", Models.cifar10().summary(3, 32, 32));
  }
}
