package dev.kiln.samples;

import static dev.kiln.samples.SampleCommandsTest.printed;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kiln.runtime.Device;
import dev.kiln.runtime.Kiln;
import dev.kiln.runtime.Tensor;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code char-gpt}: nanoGPT's character-level GPT, on a small text. */
class CharGptCommandTest {
  private static final String VERSE = "To be, or not to be, that is the question:\n"
      + "Whether 'tis nobler in the mind to suffer\nThe slings and arrows of outrageous fortune,\n";

  private static Path text(Path dir, String content) throws IOException {
    Path file = dir.resolve("text.txt");
    Files.writeString(file, content);
    return file;
  }

  private static String run(String... options) {
    String[] argv = new String[options.length + 1];
    argv[0] = "char-gpt";
    System.arraycopy(options, 0, argv, 1, options.length);
    return printed(() -> CharGptCommand.run(new Args("char-gpt", argv, 1, Set.of("eager"))));
  }

  /** A few steps on a small text: the training and validation losses fall, the plot is written, 40 characters of the text come out. */
  @Test
  void learnsASmallTextAndGeneratesFromItsVocabulary(@TempDir Path dir) throws IOException {
    Path file = text(dir, VERSE.repeat(12));
    String out = run("--text", file.toString(), "--steps", "60", "--batch", "16", "--eval-every", "30", "--eval-iters", "2",
        "--generate", "40", "--prompt", "To be", "--out", dir.toString(), "--device", "cpu");
    Matcher m = Pattern.compile("step (\\d+): train loss ([\\d.]+), val loss ([\\d.]+)").matcher(out);
    List<double[]> evals = new ArrayList<>();
    while (m.find()) {
      evals.add(new double[] {Integer.parseInt(m.group(1)), Double.parseDouble(m.group(2)), Double.parseDouble(m.group(3))});
    }
    assertEquals(3, evals.size(), out);                                  // steps 0, 30, 60
    assertTrue(evals.get(0)[1] > 4 && evals.get(0)[1] < 5, "untrained: about ln(96), " + out);
    assertTrue(evals.get(2)[1] < evals.get(0)[1] - 1, out);
    assertTrue(evals.get(2)[2] < evals.get(0)[2] - 1, out);
    assertTrue(Files.isRegularFile(dir.resolve("loss.png")), out);
    String marker = "---- 40 characters after the prompt \"To be\":\n";
    int at = out.indexOf(marker);
    assertTrue(at >= 0, out);
    String sample = out.substring(at + marker.length(), out.length() - 1);   // the last newline println's
    assertTrue(sample.startsWith("To be"), sample);
    String generated = sample.substring("To be".length());
    assertEquals(40, generated.length(), generated);
    generated.chars().forEach(c -> assertTrue(VERSE.indexOf(c) >= 0, "'" + (char) c + "' is not in the text: " + generated));
  }

  /** The compiled model (split, the causal mask buffer, two blocks in a ModuleList) gives the declaration's logits and gradients. */
  @Test
  void compiledModelMatchesTheDeclaration() {
    Kiln.manualSeed(3);
    CharGpt eager = new CharGpt();
    Kiln.manualSeed(3);
    CharGpt compiled = new KilnCharGpt();
    Random r = new Random(1);
    int[] ids = new int[2 * CharGpt.S];
    for (int i = 0; i < ids.length; i++) {
      ids[i] = r.nextInt(CharGpt.V);
    }
    Tensor x = Tensor.labels(ids).view(2, CharGpt.S);
    Tensor e = eager.forward(x);
    Tensor c = compiled.forward(x);
    assertEquals(List.of(2, CharGpt.S, CharGpt.V), List.of(c.shape()[0], c.shape()[1], c.shape()[2]));
    assertEquals(0, IntermediateCommand.maxDifference(e, c), 1e-5);
    Tensor weights = Tensor.randn(2, CharGpt.S, CharGpt.V);
    e.mul(weights).sum().backward();
    c.mul(weights).sum().backward();
    Map<String, Tensor> cp = compiled.namedParameters();
    eager.namedParameters().forEach((k, v) -> assertEquals(0, IntermediateCommand.maxDifference(v.grad(), cp.get(k).grad()),
        1e-4, k));
  }

  /**
   * The blocks in their ModuleList give nanoGPT's key layout, the same in the compiled class and in the PyTorch twin
   * (samples/peer/pytorch_char_gpt_peer.py, whose state_dict() lists these 31 keys in this order).
   */
  @Test
  void stateDictKeysAreTheBlocksAsThePyTorchTwinsAre() {
    List<String> block = List.of("ln1.weight", "ln1.bias", "attn.bias", "attn.cAttn.weight", "attn.cAttn.bias",
        "attn.cProj.weight", "attn.cProj.bias", "ln2.weight", "ln2.bias", "mlp.cFc.weight", "mlp.cFc.bias", "mlp.cProj.weight",
        "mlp.cProj.bias");
    List<String> keys = new java.util.ArrayList<>(List.of("wte.weight", "wpe.weight"));
    for (int i = 0; i < CharGpt.LAYERS; i++) {
      for (String k : block) {
        keys.add("h." + i + "." + k);
      }
    }
    keys.addAll(List.of("lnF.weight", "lnF.bias", "lmHead.weight"));
    assertEquals(keys, List.copyOf(new KilnCharGpt().stateDict().keySet()));
    assertEquals(keys, List.copyOf(new CharGpt().stateDict().keySet()));
  }

  /** Generation reads the logits at the context's last position; a context shorter than S sits at the window's start. */
  @Test
  void generatesTheRequestedCountFromTheKnownIds() {
    Kiln.manualSeed(0);
    CharGpt net = new KilnCharGpt();
    int[] out = CharGptCommand.generate(net, new int[] {1, 2, 3}, 50, 1.0, 5, 7, new Random(0), Device.cpu());
    assertEquals(50, out.length);
    for (int id : out) {
      assertTrue(id >= 0 && id < 7, "id " + id);
    }
  }

  @Test
  void refusesBadOptionsAndTextsWithClearMessages(@TempDir Path dir) throws IOException {
    Path file = text(dir, VERSE.repeat(12));
    var e = assertThrows(Args.UsageException.class, () -> run("--text", file.toString(), "--block", "64"));
    assertTrue(e.getMessage().startsWith("char-gpt: the model's context and depth are compile-time constants (CharGpt.S = 32,"
        + " CharGpt.LAYERS = 2): --block must be 32 and --layers 2, got --block 64 --layers 2"), e.getMessage());
    e = assertThrows(Args.UsageException.class, () -> run("--text", dir.resolve("missing.txt").toString()));
    assertEquals("char-gpt: --text " + dir.resolve("missing.txt") + ": no such file", e.getMessage());
    Path tiny = dir.resolve("tiny.txt");
    Files.writeString(tiny, "too short");
    e = assertThrows(Args.UsageException.class, () -> run("--text", tiny.toString()));
    assertEquals("char-gpt: --text " + tiny + " has 9 characters; at least 340 are needed (a tenth of them, the validation"
        + " split, must hold a window of 33)", e.getMessage());
    e = assertThrows(Args.UsageException.class, () -> run("--text", file.toString(), "--prompt", "Zebra"));
    assertEquals("char-gpt: --prompt \"Zebra\" has \"Z\" at 0, which is not in the text's vocabulary", e.getMessage());
    e = assertThrows(Args.UsageException.class, () -> run("--text", file.toString(), "--top-k", "0"));
    assertEquals("char-gpt: --top-k must be at least 1, got 0", e.getMessage());
    e = assertThrows(Args.UsageException.class, () -> run("--text", file.toString(), "--temperature", "0"));
    assertEquals("char-gpt: --temperature must be a positive number, got 0.0", e.getMessage());
    e = assertThrows(Args.UsageException.class, () -> run("--text", file.toString(), "--step", "5"));
    assertTrue(e.getMessage().contains("--step"), e.getMessage());
  }

  /** nanoGPT's vocabulary: the text's characters in order; past 95 of them the rarest share one unknown id. */
  @Test
  void vocabularyKeepsTheMostFrequentCharacters(@TempDir Path dir) throws IOException {
    StringBuilder many = new StringBuilder();
    for (int i = 0; i < 400; i++) {
      many.append((char) (0x100 + i % 100)).append(i < 200 ? "a" : "b");   // 100 rare characters, 'a' and 'b' frequent
    }
    CharGptCommand.Corpus corpus = CharGptCommand.Corpus.read(text(dir, many.toString()), CharGpt.S);
    assertEquals(CharGpt.V - 1, corpus.chars.length);
    assertEquals(CharGpt.V, corpus.size());
    assertEquals('a', corpus.chars[0]);
    assertEquals("ab\uFFFD", corpus.decode(new int[] {0, 1, CharGpt.V - 1}));
    CharGptCommand.Corpus small = CharGptCommand.Corpus.read(text(dir, VERSE.repeat(12)), CharGpt.S);
    assertEquals("\n ',:TWabdefghilmnoqrstuw", new String(small.chars));
    assertEquals(small.chars.length, small.size());
  }
}
