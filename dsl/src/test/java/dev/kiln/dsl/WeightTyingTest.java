package dev.kiln.dsl;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kiln.runtime.Device;
import dev.kiln.runtime.Kiln;
import dev.kiln.runtime.Tensor;
import dev.kiln.runtime.optim.AdamW;
import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Weight tying ({@link Embedding#weight(Tensor)}, {@link Linear#weight(Tensor)}), as nanoGPT's {@code
 * self.transformer.wte.weight = self.lm_head.weight}: one tensor, both gradients summed into it, listed once as a
 * parameter and twice in the state dict, as PyTorch 1.13 does.
 */
class WeightTyingTest {
  @TempDir Path dir;

  /** nanoGPT's tie in small: a token table and a head without bias over the same [V, D] weight. */
  static final class Tied extends Module {
    final Embedding wte = new Embedding(5, 3);
    final Linear lmHead = new Linear(3, 5, false);

    Tied() {
      wte.weight(lmHead.weight());
    }

    @Override
    public Tensor forward(Tensor ids) {
      return lmHead.apply(wte.apply(ids));
    }
  }

  /** The same layers untied, with the tied model's values in both. */
  static final class Untied extends Module {
    final Embedding wte = new Embedding(5, 3);
    final Linear lmHead = new Linear(3, 5, false);

    @Override
    public Tensor forward(Tensor ids) {
      return lmHead.apply(wte.apply(ids));
    }
  }

  private static final Tensor IDS = Tensor.labels(0, 2, 4, 2);
  private static final Tensor TARGETS = Tensor.labels(1, 2, 0, 3);

  /** (arange(15).view(5, 3) - 7) / 10, the weight the PyTorch reference used. */
  private static float[] startWeight() {
    float[] w = new float[15];
    for (int i = 0; i < w.length; i++) {
      w[i] = (i - 7) / 10f;
    }
    return w;
  }

  private static Tied tied() {
    Tied m = new Tied();
    m.loadStateDict(Map.of("wte.weight", Tensor.of(startWeight(), 5, 3), "lmHead.weight", Tensor.of(startWeight(), 5, 3)));
    return m;
  }

  @Test
  void bothLayersHoldOneTensorListedOnceAsAParameterAndTwiceInTheStateDict() {
    Tied m = tied();
    assertSame(m.wte.weight(), m.lmHead.weight());
    assertEquals(List.of("wte.weight"), List.copyOf(m.namedParameters().keySet())); // PyTorch: ['wte.weight']
    assertEquals(List.of(m.lmHead.weight()), m.parameters());
    assertEquals(15, m.parameterCount());
    assertEquals(List.of("wte.weight", "lmHead.weight"), List.copyOf(m.stateDict().keySet()));
    assertEquals(List.of("weight"), List.copyOf(m.lmHead.namedParameters().keySet()));
  }

  /**
   * PyTorch 1.13: {@code F.cross_entropy(m(ids), y)} gives 1.8819666 and these gradients in the one weight (the table's
   * rows it gathered plus the head's product).
   */
  @Test
  void theGradientsOfBothUsesAddIntoTheOneWeightAsInPyTorch() {
    Tied m = tied();
    Tensor loss = new CrossEntropyLoss().apply(m.forward(IDS), TARGETS);
    assertEquals(1.8819665908813477, loss.item(), 1e-6);
    loss.backward();
    float[] expected = {-0.204101786f, -0.206629306f, -0.209156781f, 0.130447865f, 0.124177732f, 0.117907584f,
        -0.0675952807f, -0.075000003f, -0.0824047178f, 0.0320924185f, 0.0258222707f, 0.0195521172f, 0.259156793f,
        0.281629294f, 0.304101795f};
    assertArrayEquals(expected, m.wte.weight().grad().toFloatArray(), 1e-6f);

    Untied u = new Untied(); // the sum of the two layers' own gradients when untied
    u.loadStateDict(m.stateDict());
    new CrossEntropyLoss().apply(u.forward(IDS), TARGETS).backward();
    float[] table = u.wte.weight().grad().toFloatArray();
    float[] head = u.lmHead.weight().grad().toFloatArray();
    float[] sum = new float[15];
    for (int i = 0; i < sum.length; i++) {
      sum[i] = table[i] + head[i];
    }
    assertArrayEquals(sum, m.lmHead.weight().grad().toFloatArray(), 1e-6f);
  }

  @Test
  void optimizerStepsKeepTheTwoLayersEqual() {
    Kiln.manualSeed(4);
    Tied m = new Tied();
    AdamW opt = new AdamW(m.parameters(), 0.01);
    for (int step = 0; step < 5; step++) {
      opt.zeroGrad();
      new CrossEntropyLoss().apply(m.forward(IDS), TARGETS).backward();
      opt.step();
    }
    assertSame(m.wte.weight(), m.lmHead.weight());
    assertArrayEquals(m.stateDict().get("wte.weight").toFloatArray(), m.stateDict().get("lmHead.weight").toFloatArray());
    assertEquals(1, opt.paramGroups().get(0).params().size());
  }

  /** As PyTorch 1.13's load_state_dict: each key copies into the one tensor, the later module's last. */
  @Test
  void loadingEitherOrBothKeysWritesTheOneTensorAsPyTorchDoes() throws IOException {
    Tied m = tied();
    Tensor ones = Tensor.ones(5, 3);
    Tensor twos = Tensor.ones(5, 3).mul(2);
    m.loadStateDict(Map.of("wte.weight", ones, "lmHead.weight", twos));
    assertEquals(2f, m.wte.weight().toFloatArray()[0]); // PyTorch: 2.0 (lm_head's key, copied last)
    m.loadStateDict(Map.of("lmHead.weight", ones.mul(3), "wte.weight", ones));
    assertEquals(3f, m.wte.weight().toFloatArray()[0]); // PyTorch: 3.0, whatever the map's order

    var missing = assertThrows(IllegalArgumentException.class, () -> m.loadStateDict(Map.of("wte.weight", ones)));
    assertTrue(missing.getMessage().contains("Missing key(s) in state_dict: \"lmHead.weight\"."), missing.getMessage());
    var skipped = m.loadStateDict(Map.of("lmHead.weight", twos), false);
    assertEquals(List.of("wte.weight"), skipped.missingKeys()); // PyTorch: missing_keys=['wte.weight']
    assertEquals(2f, m.wte.weight().toFloatArray()[0]);

    Path file = dir.resolve("tied.safetensors");
    m.loadStateDict(tied().stateDict());
    m.save(file);
    Tied loaded = new Tied();
    loaded.load(file);
    assertSame(loaded.wte.weight(), loaded.lmHead.weight());
    assertArrayEquals(startWeight(), loaded.lmHead.weight().toFloatArray());
  }

  /** A tied model's file (both keys) loads strictly into PyTorch's tied twin, which keeps its one tensor. */
  @Test
  void aTiedModelsFileLoadsIntoPyTorchsTiedTwin() throws IOException, InterruptedException {
    org.junit.jupiter.api.Assumptions.assumeTrue(java.nio.file.Files.isExecutable(Path.of("/usr/bin/python3")));
    Tied m = tied();
    Path file = dir.resolve("tied.safetensors");
    m.save(file);
    Path script = dir.resolve("load_tied.py");
    java.nio.file.Files.writeString(script, String.join("\n",
        "import sys, torch",
        "sys.path.insert(0, sys.argv[1])",
        "from read_safetensors import read_safetensors",
        "class M(torch.nn.Module):",
        "    def __init__(self):",
        "        super().__init__()",
        "        self.wte = torch.nn.Embedding(5, 3)",
        "        self.lmHead = torch.nn.Linear(3, 5, bias=False)",
        "        self.wte.weight = self.lmHead.weight",
        "m = M()",
        "print(m.load_state_dict(read_safetensors(sys.argv[2])[0], strict=True))",
        "print('tied', m.wte.weight is m.lmHead.weight)",
        "print('values', m.wte.weight.flatten().tolist())",
        ""));
    String output = StateDictTorchInteropTest.runPython(script.toString(), TorchNet.resource("").toString(), file.toString());
    assertTrue(output.contains("<All keys matched successfully>"), output);
    assertTrue(output.contains("tied True"), output);
    assertTrue(output.contains("values [-0.699999988079071, -0.6000000238418579, -0.5"), output);
  }

  @Test
  void tyingChecksTheTensorAndNamesWhatWasWrong() {
    Embedding wte = new Embedding(5, 3);
    var shape = assertThrows(IllegalArgumentException.class, () -> wte.weight(new Linear(5, 3, false).weight()));
    assertEquals("Embedding(5, 3).weight(...) got a tensor of shape [3, 5], but its weight is [5, 3]; a tied parameter"
        + " must have the shape of the one it replaces (an Embedding(V, D)'s weight [V, D] ties a Linear(D, V)'s weight"
        + " [V, D])", shape.getMessage());
    Linear head = new Linear(3, 5, false);
    var plain = assertThrows(IllegalArgumentException.class, () -> head.weight(Tensor.zeros(5, 3)));
    assertEquals("Linear(in_features=3, out_features=5, bias=False).weight(...) got a tensor that is not a parameter (it"
        + " does not require grad); tie to another layer's parameter itself, such as lmHead.weight()", plain.getMessage());
    var computed = assertThrows(IllegalArgumentException.class, () -> head.weight(wte.weight().mul(2)));
    assertTrue(computed.getMessage().contains("(it was computed from others)"), computed.getMessage());
    assertThrows(IllegalArgumentException.class, () -> head.weight(null));
    assertSame(head, head.weight(wte.weight()));
  }

  @Test
  void movingTheModelKeepsTheTensorShared() {
    Tied m = tied();
    m.to(Device.cpu());
    assertSame(m.wte.weight(), m.lmHead.weight());
  }

  @Test
  void theSummaryCountsATiedWeightOnceInItsFirstRow() {
    String summary = tied().summaryOfIds(4);
    assertTrue(summary.contains("Embedding-1                 [-1, 4, 3]              15"), summary);
    assertTrue(summary.contains("Linear-2                 [-1, 4, 5]               0"), summary);
    assertTrue(summary.contains("Total params: 15\n"), summary);
    assertTrue(summary.endsWith("\nShared with an earlier row's layer, counted there: Linear-2's weight (Embedding-1's, 15"
        + " params)"), summary);
  }
}
