package dev.kiln.samples;

import static dev.kiln.samples.SampleCommandsTest.printed;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kiln.runtime.Device;
import dev.kiln.runtime.Kiln;
import dev.kiln.runtime.Tensor;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Random;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code seq2seq}: an nn.Transformer encoder-decoder that learns to sort digits, decoded greedily. */
class Seq2SeqCommandTest {
  private static final Pattern REPORT = Pattern.compile(
      "step (\\d+): train loss ([\\d.]+), test loss ([\\d.]+), greedy decoding: digits ([\\d.]+)%, sequences ([\\d.]+)%");

  private static String run(String... options) {
    String[] argv = new String[options.length + 1];
    argv[0] = "seq2seq";
    System.arraycopy(options, 0, argv, 1, options.length);
    return printed(() -> Seq2SeqCommand.run(new Args("seq2seq", argv, 1, Set.of("eager"))));
  }

  /**
   * A short run on 4 digits learns well above chance (10% of digits) and its loss falls; the saved model reloads into
   * a fresh one that decodes alike, and {@code --load} with {@code --steps 0} evaluates it to the same figures.
   */
  @Test
  void learnsToSortAboveChanceAndReloadsTheSavedModel(@TempDir Path dir) {
    Path file = dir.resolve("sorter.safetensors");
    String out = run("--length", "4", "--steps", "150", "--batch", "32", "--eval-every", "75", "--lr", "0.002",
        "--save", file.toString(), "--device", "cpu");
    Matcher m = REPORT.matcher(out);
    assertTrue(m.find(), out);
    double firstLoss = Double.parseDouble(m.group(2));
    assertTrue(m.find(), out);
    assertEquals("150", m.group(1), out);
    assertTrue(Double.parseDouble(m.group(2)) < firstLoss, out);
    double digits = Double.parseDouble(m.group(4));
    assertTrue(digits > 40, "digits " + digits + "%, chance is 10%\n" + out);
    assertTrue(out.contains("reloaded into a fresh model: the same greedy decoding of the test sequences"), out);
    assertTrue(Files.isRegularFile(file), out);

    String evaluated = run("--length", "4", "--steps", "0", "--load", file.toString(), "--device", "cpu");
    String line = out.substring(m.start()).lines().findFirst().orElseThrow();
    String tail = line.substring(line.indexOf(" test loss"));
    assertTrue(evaluated.contains("evaluated" + tail), tail + "\n" + evaluated);
    assertTrue(out.contains("Seq2SeqTransformer (eager: the compiled class takes 8 digits)"), out);
  }

  /** Sequences of 8 digits train the compiled class, which learns as eager mode does; --eager runs the declaration. */
  @Test
  void eightDigitsTrainTheCompiledClassUnlessEager() {
    String compiled = run("--steps", "20", "--batch", "16", "--eval-every", "20", "--device", "cpu");
    assertTrue(compiled.contains("Seq2SeqTransformer (compiled): 169738 parameters"), compiled);
    String eager = run("--steps", "20", "--batch", "16", "--eval-every", "20", "--device", "cpu", "--eager");
    assertTrue(eager.contains("Seq2SeqTransformer (eager): 169738 parameters"), eager);
    Matcher c = REPORT.matcher(compiled);
    Matcher e = REPORT.matcher(eager);
    assertTrue(c.find() && e.find(), compiled + eager);
    // one seed, one batch order, one dropout draw: the losses agree to rounding (4 decimals printed)
    assertEquals(Double.parseDouble(e.group(2)), Double.parseDouble(c.group(2)), 2e-4, compiled + eager);
    assertEquals(Double.parseDouble(e.group(3)), Double.parseDouble(c.group(3)), 2e-4, compiled + eager);
  }

  /**
   * KilnSeq2SeqTransformer against the eager declaration, one seed: teacher forcing in training (dropout 0.1 everywhere,
   * drawn from one seed) and in evaluation, the scores and every parameter's gradient; the encoder's memory
   * ({@code forward(src)}) alike.
   */
  @Test
  void compiledClassGivesEagerValuesAndGradients() {
    Seq2SeqTransformer[] nets = new Seq2SeqTransformer[2];
    for (int i = 0; i < 2; i++) {
      Kiln.manualSeed(5);
      nets[i] = Seq2SeqCommand.model(i == 1);
    }
    var b = Seq2SeqCommand.Batch.draw(Seq2SeqCommand.Task.SORT, 6, Seq2SeqTransformer.LENGTH, new Random(4), Device.cpu());
    for (boolean train : new boolean[] {true, false}) {
      Tensor[] out = new Tensor[2];
      Tensor[] memory = new Tensor[2];
      for (int i = 0; i < 2; i++) {
        nets[i].train(train);
        nets[i].zeroGrad(true);
        Kiln.manualSeed(9);
        out[i] = nets[i].forward(b.src(), b.tgtIn());
        new dev.kiln.dsl.CrossEntropyLoss().apply(out[i].reshape(-1, Seq2SeqTransformer.DIGITS), b.tgtOut()).backward();
        Kiln.manualSeed(9);
        try (var g = Kiln.noGrad()) {
          memory[i] = nets[i].forward(b.src());
        }
      }
      assertClose((train ? "train" : "eval") + " scores", out[0].toFloatArray(), out[1].toFloatArray());
      assertClose((train ? "train" : "eval") + " memory", memory[0].toFloatArray(), memory[1].toFloatArray());
      var compiled = nets[1].namedParameters();
      nets[0].namedParameters().forEach((k, v) -> assertClose(k + " gradient", v.grad().toFloatArray(),
          compiled.get(k).grad().toFloatArray()));
    }
  }

  /** Within 1e-5 of the largest magnitude. */
  private static void assertClose(String what, float[] expected, float[] actual) {
    assertEquals(expected.length, actual.length, what);
    double scale = 1e-12;
    double worst = 0;
    for (int i = 0; i < expected.length; i++) {
      scale = Math.max(scale, Math.abs(expected[i]));
      worst = Math.max(worst, Math.abs(expected[i] - actual[i]));
    }
    assertTrue(worst <= 1e-5 * scale, what + ": largest difference " + worst + " of " + scale);
  }

  /** Greedy decoding writes each digit after the ones before it: a model that has learned gives the teacher-forced argmax. */
  @Test
  void greedyDecodingAgreesWithTeacherForcingOnItsOwnOutput() {
    Kiln.manualSeed(1);
    Seq2SeqTransformer net = new Seq2SeqTransformer();
    var b = Seq2SeqCommand.Batch.draw(Seq2SeqCommand.Task.SORT, 6, 5, new Random(2), Device.cpu());
    int[] decoded = net.greedyDecode(b.src());
    assertEquals(30, decoded.length);
    // feeding the decoded digits back (start token first) must reproduce them at every position, under the causal mask
    int[] in = new int[30];
    for (int i = 0; i < 6; i++) {
      in[i * 5] = Seq2SeqTransformer.START;
      System.arraycopy(decoded, i * 5, in, i * 5 + 1, 4);
    }
    net.eval();
    try (var g = Kiln.noGrad()) {
      int[] again = net.forward(b.src(), Tensor.labels(in).view(6, 5)).argmax(2).reshape(-1).toIntArray();
      assertArrayEquals(decoded, again);
    }
  }

  /** The tasks' answers and the decoder's input: the start token, then the answer shifted right by one. */
  @Test
  void batchesShiftTheAnswerBehindTheStartToken() {
    assertArrayEquals(new int[] {1, 3, 3, 7}, Seq2SeqCommand.Task.SORT.answer(new int[] {3, 7, 1, 3}));
    assertArrayEquals(new int[] {3, 1, 7, 3}, Seq2SeqCommand.Task.REVERSE.answer(new int[] {3, 7, 1, 3}));
    var b = Seq2SeqCommand.Batch.draw(Seq2SeqCommand.Task.SORT, 3, 6, new Random(0), Device.cpu());
    int[] src = b.src().toIntArray();
    int[] in = b.tgtIn().toIntArray();
    int[] out = b.tgtOut().toIntArray();
    for (int i = 0; i < 3; i++) {
      int[] digits = java.util.Arrays.copyOfRange(src, i * 6, i * 6 + 6);
      assertArrayEquals(Seq2SeqCommand.Task.SORT.answer(digits), java.util.Arrays.copyOfRange(out, i * 6, i * 6 + 6));
      assertEquals(Seq2SeqTransformer.START, in[i * 6]);
      assertArrayEquals(java.util.Arrays.copyOfRange(out, i * 6, i * 6 + 5), java.util.Arrays.copyOfRange(in, i * 6 + 1, i * 6 + 6));
    }
    assertArrayEquals(new double[] {0.75, 0.5}, Seq2SeqCommand.accuracy(new int[] {1, 2, 3, 4}, new int[] {1, 2, 3, 0}, 2));
  }

  /**
   * The state dict is the PyTorch twin's (samples/peer/pytorch_seq2seq_peer.py: 69 keys, 169738 parameters, the position
   * table of 64 rows), in its order, the compiled class's too.
   */
  @Test
  void stateDictKeysAreThePyTorchTwinsKeys() {
    Seq2SeqTransformer net = new Seq2SeqTransformer();
    assertEquals(List.copyOf(net.stateDict().keySet()), List.copyOf(new KilnSeq2SeqTransformer().stateDict().keySet()));
    List<String> keys = List.copyOf(net.stateDict().keySet());
    assertEquals(69, keys.size(), keys.toString());
    assertEquals(List.of("pos_embedding", "srcTokEmb.weight", "tgtTokEmb.weight",
        "transformer.encoder.layers.0.self_attn.in_proj_weight"), keys.subList(0, 4));
    assertEquals(List.of("transformer.decoder.norm.weight", "transformer.decoder.norm.bias", "generator.weight",
        "generator.bias"), keys.subList(65, 69));
    assertEquals(169738, net.parameterCount());
    assertEquals(List.of(64, 64), List.of(net.stateDict().get("pos_embedding").shape()[0],
        net.stateDict().get("pos_embedding").shape()[1]));
  }

  @Test
  void refusesBadOptionsWithClearMessages(@TempDir Path dir) throws Exception {
    var e = assertThrows(Args.UsageException.class, () -> run("--task", "shuffle"));
    assertEquals("seq2seq: --task must be sort or reverse, got 'shuffle'", e.getMessage());
    e = assertThrows(Args.UsageException.class, () -> run("--length", "1"));
    assertEquals("seq2seq: --length must be at least 2, got 1", e.getMessage());
    e = assertThrows(Args.UsageException.class, () -> run("--length", "65"));
    assertEquals("seq2seq: --length must be at most 64, got 65", e.getMessage());
    e = assertThrows(Args.UsageException.class, () -> run("--steps", "0"));
    assertEquals("seq2seq: --steps 0 evaluates a trained model: give it with --load PATH", e.getMessage());
    e = assertThrows(Args.UsageException.class, () -> run("--load", dir.resolve("none.safetensors").toString()));
    assertEquals("seq2seq: --load " + dir.resolve("none.safetensors") + ": no such file", e.getMessage());
    e = assertThrows(Args.UsageException.class, () -> run("--lr", "-1"));
    assertEquals("seq2seq: --lr must be a positive number, got -1.0", e.getMessage());
    e = assertThrows(Args.UsageException.class, () -> run("--save", dir.toString()));
    assertEquals("seq2seq: --save " + dir + " is a directory; give a file path", e.getMessage());
    e = assertThrows(Args.UsageException.class, () -> run("--heads", "8"));
    assertEquals("seq2seq: unknown option --heads (it takes --batch, --device, --eager, --eval-every, --length, --load, --lr,"
        + " --save, --seed, --steps, --task)", e.getMessage());
    e = assertThrows(Args.UsageException.class, () -> run("--load", dir.toString()));
    assertEquals("seq2seq: --load " + dir + " is a directory; give a file", e.getMessage());
    // an older sample's file, its position table of --length rows (8): the message names the option, the file and the key
    Path file = dir.resolve("eight.safetensors");
    var old = new java.util.LinkedHashMap<>(new Seq2SeqTransformer().stateDict());
    old.put("pos_embedding", old.get("pos_embedding").narrow(0, 0, 8));
    dev.kiln.runtime.io.SafeTensors.write(file, old);
    var wrong = assertThrows(IllegalArgumentException.class, () -> run("--steps", "0", "--load", file.toString(),
        "--device", "cpu"));
    assertTrue(wrong.getMessage().startsWith("seq2seq: --load: ") && wrong.getMessage().contains("pos_embedding")
        && wrong.getMessage().contains(file.toString()) && wrong.getMessage().endsWith("(the position table has 64 rows"
        + " whatever --length; a file of an older seq2seq sample has --length rows there: train the model again to save it"
        + " with the whole table)"), wrong.getMessage());
  }

  @Test
  void benchTimesTheStepAndTheGreedyDecoding() {
    String[] args = {"bench", "--model", "seq2seq", "--steps", "2", "--peer", "none"};
    String text = printed(() -> BenchCommand.run(new Args("bench", args, 1, Set.of())));
    // Kiln's eager and compiled times, then no peer
    assertTrue(Pattern.compile("\\| train step \\| seq2seq \\| 64 \\| [0-9.]+ \\| [0-9.]+ \\| - \\| - \\| - \\|").matcher(text).find(), text);
    assertTrue(Pattern.compile("\\| greedy decode \\| seq2seq \\| 64 \\| [0-9.]+ \\| [0-9.]+ \\| - \\| - \\| - \\|").matcher(text).find(), text);
  }
}
