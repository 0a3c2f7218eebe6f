package dev.kiln.processor;

import static com.google.testing.compile.CompilationSubject.assertThat;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.testing.compile.Compilation;
import javax.tools.JavaFileObject;
import dev.kiln.dsl.CrossEntropyLoss;
import dev.kiln.dsl.Module;
import dev.kiln.runtime.Kiln;
import dev.kiln.runtime.Tensor;
import dev.kiln.runtime.optim.AdamW;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The attention pass of the model zoo (docs/design-notes.md, "Model zoo: attention models"): lucidrains/vit-pytorch's ViT
 * and SimpleViT, an attention pooling with a learned query in MultiheadAttention and nanoGPT's block with dropout and its
 * inference head, ported as a Java developer would, compiled against eager mode (values, loss, every gradient, AdamW
 * steps, in training with dropout and in evaluation) and against PyTorch 1.13 for the same weights
 * ({@code processor/src/test/resources/zoo_attention/make_reference.py}).
 */
class ZooAttentionTest {
  /** Eager and compiled {@code name} from one seed (the same parameters). */
  static Module[] models(String name) {
    return AttentionLayersCompiledTest.models(name);
  }

  /** One training step of {@code model}: forward (dropout drawn from seed 100), cross-entropy, backward; the logits and loss. */
  private static Tensor[] step(Module model, Tensor x, Tensor labels) {
    Kiln.manualSeed(100);
    Tensor logits = model.forward(x);
    Tensor flat = logits.shape().length == 3 ? logits.reshape(-1, logits.shape()[2]) : logits;   // logits.view(-1, V)
    Tensor loss = new CrossEntropyLoss().apply(flat, labels);
    loss.backward();
    return new Tensor[] {logits, loss};
  }

  /**
   * Compiled forward, loss, the input's (when float) and every parameter's gradient equal eager mode's (ParityTest's 1e-5), in
   * training (dropout drawn alike) and evaluation, then three AdamW steps agree.
   */
  @ParameterizedTest
  @CsvSource({"ZooVit, 3:16:16, 10", "ZooSimpleVit, 3:16:16, 10", "ZooAttentionPool, 6:32, 5", "ZooGptBlock, 8, 0"})
  void compiledMatchesEagerInTrainingAndEvaluation(String name, String sample, int classes) {
    Module[] m = models(name);
    int[] shape = java.util.stream.Stream.concat(java.util.stream.Stream.of("4"), List.of(sample.split(":")).stream())
        .mapToInt(Integer::parseInt).toArray();
    boolean ids = classes == 0;
    Kiln.manualSeed(3);
    Tensor input = ids ? ParityTest.ids(4, shape[1], 16) : Tensor.randn(shape);
    Tensor labels = ids ? ParityTest.ids(4, shape[1], 16).reshape(-1) : Tensor.labels(0, 3, 1, classes - 1);
    AdamW[] opts = {new AdamW(m[0].parameters(), 1e-2), new AdamW(m[1].parameters(), 1e-2)};
    for (String mode : List.of("train", "eval", "train", "train")) {
      Tensor[][] r = new Tensor[2][];
      Tensor[] xs = new Tensor[2];
      for (int i = 0; i < 2; i++) {
        m[i].train(mode.equals("train"));
        opts[i].zeroGrad();
        xs[i] = ids ? input : Tensor.of(input.toFloatArray(), input.shape()).requiresGrad(true);
        r[i] = step(m[i], xs[i], labels);
      }
      ParityTest.assertClose(name + " " + mode + ": logits", r[1][0].toFloatArray(), r[0][0].toFloatArray(), 1e-5);
      ParityTest.assertClose(name + " " + mode + ": loss", r[1][1].toFloatArray(), r[0][1].toFloatArray(), 1e-5);
      if (!ids) {
        ParityTest.assertClose(name + " " + mode + ": input gradient", xs[1].grad().toFloatArray(), xs[0].grad().toFloatArray(), 1e-5);
      }
      ParityTest.assertParameterGradients(name + " " + mode, m[0], m[1], 1e-5);
      for (AdamW opt : opts) {
        opt.step();
      }
    }
  }

  /** nanoGPT's inference head, {@code lm_head(x[:, [-1], :])}: logits and every gradient equal eager's, in training and evaluation. */
  @Test
  void gptInferenceHeadMatchesEager() {
    Module[] m = models("ZooGptLast");
    Kiln.manualSeed(3);
    Tensor ids = ParityTest.ids(4, 8, 16);
    for (String mode : List.of("train", "eval")) {
      Tensor[][] r = new Tensor[2][];
      for (int i = 0; i < 2; i++) {
        m[i].train(mode.equals("train"));
        m[i].zeroGrad(true);
        r[i] = step(m[i], ids, Tensor.labels(1, 5, 9, 15));
      }
      ParityTest.assertClose(mode + ": logits [N, 1, V]", r[1][0].toFloatArray(), r[0][0].toFloatArray(), 1e-5);
      ParityTest.assertParameterGradients("ZooGptLast " + mode, m[0], m[1], 1e-5);
    }
  }

  /** reference.txt of {@code zoo_attention/make_reference.py}: {@code <model>.<name> [shape] values...}, by key. */
  private static Map<String, float[]> reference() throws IOException {
    Map<String, float[]> values = new HashMap<>();
    try (InputStream in = ZooAttentionTest.class.getResourceAsStream("/zoo_attention/reference.txt")) {
      for (String line : new String(in.readAllBytes(), StandardCharsets.UTF_8).split("\n")) {
        if (line.isBlank() || line.startsWith("#")) {
          continue;
        }
        String[] f = line.trim().split(" ");
        float[] v = new float[f.length - 2];
        for (int i = 0; i < v.length; i++) {
          v[i] = Float.parseFloat(f[i + 2]);
        }
        values.put(f[0], v);
      }
    }
    return values;
  }

  /** A parameter's name as the script keys its filling: underscores dropped, lower case ({@code to_qkv}, {@code toQkv}: toqkv). */
  private static String normalized(String name) {
    return name.replace("_", "").toLowerCase(Locale.ROOT);
  }

  /** {@code model}'s parameters filled as the script fills their PyTorch twins: 0.2 sin(0.37 i + 0.01 c), c the name's codes. */
  private static void fill(Module model) {
    try (var g = Kiln.noGrad()) {
      model.namedParameters().forEach((name, p) -> {
        int c = normalized(name).chars().sum();
        float[] v = new float[p.toFloatArray().length];
        for (int i = 0; i < v.length; i++) {
          v[i] = (float) (0.2 * Math.sin(0.37 * i + 0.01 * c));
        }
        p.copyFrom(Tensor.of(v, p.shape()));
      });
    }
  }

  /**
   * PyTorch 1.13 computes the same logits, loss and gradients (the cls token's, the learned query's, the tied wte's, the
   * tokens') for the same weights, in evaluation, in eager mode and compiled.
   */
  @ParameterizedTest
  @ValueSource(strings = {"ZooVit", "ZooSimpleVit", "ZooAttentionPool", "ZooGptBlock"})
  void agreesWithPyTorch(String name) throws IOException {
    Map<String, float[]> ref = reference();
    int n = 4;
    for (Module model : models(name)) {
      fill(model);
      model.eval();
      model.zeroGrad(true);
      Tensor x;
      Tensor labels;
      if (name.equals("ZooGptBlock")) {
        int[] ids = new int[n * 8];
        int[] targets = new int[n * 8];
        for (int i = 0; i < ids.length; i++) {
          ids[i] = (7 * i + 3) % 16;
          targets[i] = (5 * i + 1) % 16;
        }
        x = Tensor.labels(ids).reshape(n, 8);
        labels = Tensor.labels(targets);
      } else {
        int[] shape = name.equals("ZooAttentionPool") ? new int[] {n, 6, 32} : new int[] {n, 3, 16, 16};
        float[] v = new float[java.util.Arrays.stream(shape).reduce(1, (a, b) -> a * b)];
        for (int i = 0; i < v.length; i++) {
          v[i] = (float) Math.sin(0.3 * i + 0.5);
        }
        x = Tensor.of(v, shape).requiresGrad(true);
        labels = name.equals("ZooAttentionPool") ? Tensor.labels(0, 3, 1, 4) : Tensor.labels(0, 3, 1, 9);
      }
      Tensor[] r = step(model, x, labels);
      String form = name + (model.getClass().getSimpleName().startsWith("Kiln") ? " compiled" : " eager");
      ParityTest.assertClose(form + ": logits", r[0].toFloatArray(), ref.get(name + ".logits"), 1e-5);
      ParityTest.assertClose(form + ": loss", r[1].toFloatArray(), ref.get(name + ".loss"), 1e-5);
      if (ref.containsKey(name + ".dx")) {
        ParityTest.assertClose(form + ": token gradient", x.grad().toFloatArray(), ref.get(name + ".dx"), 1e-5);
      }
      String first = ref.keySet().stream().filter(k -> k.startsWith(name + ".grad.")).findFirst().orElseThrow();
      Tensor p = model.namedParameters().entrySet().stream()
          .filter(e -> normalized(e.getKey()).equals(normalized(first.substring((name + ".grad.").length()))))
          .findFirst().orElseThrow().getValue();
      ParityTest.assertClose(form + ": gradient of " + first, p.grad().toFloatArray(), ref.get(first), 1e-5);
    }
  }

  /**
   * The port's mistakes are errors on their lines naming what compiles: a field expanded over a constant rather than the
   * batch, the expand of a value of the batch, a field whose first size is not 1, a squeeze of the batch, a learned query
   * passed to MultiheadAttention without expanding it, and simple_vit.py's position table held in a plain field.
   */
  @Test
  void portMistakesAreErrorsOnTheirLines() {
    JavaFileObject f = ProcessorTest.classModel("Mistakes",
        "@Model(input = {6, 8})",
        "public class Mistakes extends Module {",
        "  final Tensor cls = registerParameter(\"cls\", Tensor.zeros(1, 1, 8).requiresGrad(true));",
        "  final Tensor wide = registerParameter(\"wide\", Tensor.zeros(2, 1, 8).requiresGrad(true));",
        "  final MultiheadAttention attn = new MultiheadAttention(8, 2, 0.0, true, true);",
        "  @Override public Tensor forward(Tensor x) {",
        "    Tensor a = cls.expand(4, -1, -1);",
        "    Tensor b = x.expand(x.size(0), 6, 8);",
        "    Tensor c = wide.expand(x.size(0), -1, -1);",
        "    Tensor d = x.squeeze(0);",
        "    Tensor e = attn.forward(cls, x, x).output();",
        "    Tensor g = cls.expand(x.size(0), 3, 4);",
        "    return x;",
        "  }",
        "}");
    Compilation c = ProcessorTest.compile(f);
    assertThat(c).hadErrorContaining("forward: cls.expand(4, -1, -1) expands the tensor field cls, whose first size must be the"
        + " batch size (x.size(0), or a local holding it: int b = x.size(0))").inFile(f).onLineContaining("Tensor a = ");
    assertThat(c).hadErrorContaining("forward: Tensor.expand of a value of the batch (x.expand(x.size(0), 6, 8)) has no compiled"
        + " form yet: x.repeat(1, counts...) tiles one").inFile(f).onLineContaining("Tensor b = ");
    assertThat(c).hadErrorContaining("expand(N, -1, -1) of the field [2, 1, 8]: its dimension 0 has size 2, not 1, so it cannot"
        + " stretch over the batch").inFile(f).onLineContaining("Tensor c = ");
    assertThat(c).hadErrorContaining("x.squeeze(0): a compiled forward keeps dimension 0 of [N, 6, 8] as the batch, so it"
        + " squeezes a dimension after it (x.squeeze(1))").inFile(f).onLineContaining("Tensor d = ");
    assertThat(c).hadErrorContaining("expand a tensor field of the model (a learned query [1, L, E]) over the batch first:"
        + " attn.forward(query.expand(x.size(0), -1, -1), x, x)").inFile(f).onLineContaining("Tensor e = ");
    assertThat(c).hadErrorContaining("expand(N, 3, 4) of the field [1, 1, 8]: the expanded size of the tensor (4) must match"
        + " the existing size (8) at non-singleton dimension 2").inFile(f).onLineContaining("Tensor g = ");
  }

  /**
   * A tensor field first read after the value shapes were inferred for a size read (no step between) still has its shape:
   * its squeeze is reported on its line, where the model once got neither a class nor a message.
   */
  @Test
  void fieldReadAfterASizeReadIsReported() {
    JavaFileObject f = ProcessorTest.classModel("SqueezeField",
        "@Model(input = {6, 8})",
        "public class SqueezeField extends Module {",
        "  final Tensor pos = registerParameter(\"pos\", Tensor.zeros(1, 6, 8).requiresGrad(true));",
        "  @Override public Tensor forward(Tensor x) {",
        "    int n = x.size(1);",
        "    return x.add(pos.squeeze(0)).mul(n);",
        "  }",
        "}");
    assertThat(ProcessorTest.compile(f)).hadErrorContaining("forward: Tensor.squeeze has no compiled form yet (pos.squeeze(0))")
        .inFile(f).onLineContaining("return x.add");
  }

  /** SimpleViT's sincos table is a non-persistent buffer: the state dict has simple_vit.py's keys, eager and compiled. */
  @Test
  void simpleVitStateDictIsPyTorchs() {
    for (Module m : models("ZooSimpleVit")) {
      assertFalse(m.stateDict().containsKey("posEmbedding"), m.stateDict().keySet().toString());
      assertTrue(m.namedBuffers().containsKey("posEmbedding"));
      assertEquals(30, m.stateDict().size());                       // simple_vit.py's 30 keys
    }
  }

  /** simple_vit.py's position table held as a plain attribute: a Java field that is neither parameter nor buffer is refused. */
  @Test
  void plainTensorFieldNamesRegisterBuffer() {
    JavaFileObject f = ProcessorTest.classModel("PlainTable",
        "@Model(input = {6, 8})",
        "public class PlainTable extends Module {",
        "  final Tensor pos = Tensor.zeros(6, 8);",
        "  @Override public Tensor forward(Tensor x) {",
        "    return x.add(pos);",
        "  }",
        "}");
    Compilation c = ProcessorTest.compile(f);
    assertThat(c).hadErrorContaining("registerBuffer").inFile(f).onLineContaining("final Tensor pos");
  }

  /**
   * The constructs the ports needed, each in a small model against eager mode: a block-constructor local ({@code int
   * innerDim = dimHead * heads;}), {@code Math.pow} of constants, {@code if (flag)} of a block's constant field outside a
   * loop, {@code contiguous()}, {@code to(x.device())} of a buffer, {@code unsqueeze}/{@code squeeze} of values, and
   * fields expanded over the batch: a buffer (no gradient), a dimension stretched with the batch, and a {@code [3, 1]}
   * given a new leading batch and its last dimension stretched (two passes each way).
   */
  @Test
  void portConstructsMatchEager() {
    JavaFileObject f = ProcessorTest.classModel("PortConstructs",
        "@Model(input = {6, 8})",
        "public class PortConstructs extends Module {",
        "  static class Mix extends Module {",
        "    final boolean gate;",
        "    final double scale;",
        "    final Linear fc;",
        "    Mix(int dim, int heads, boolean gate) {",
        "      int inner = dim * heads;",
        "      this.gate = gate;",
        "      this.scale = Math.pow(inner, -0.5);",
        "      fc = new Linear(dim, inner / heads);",
        "    }",
        "    @Override public Tensor forward(Tensor x) {",
        "      Tensor y;",
        "      if (gate) {",
        "        y = fc.apply(x).sigmoid().mul(x);",
        "      } else {",
        "        y = fc.apply(x).mul(scale);",
        "      }",
        "      return y.transpose(1, 2).contiguous().transpose(1, 2);",
        "    }",
        "  }",
        "  final Mix a = new Mix(8, 2, true);",
        "  final Mix b = new Mix(8, 2, false);",
        "  final Tensor table = registerBuffer(\"table\", Tensor.ones(1, 1, 8).mul(0.5));",
        "  final Tensor row = registerParameter(\"row\", Tensor.randn(1, 1, 8).requiresGrad(true));",
        "  final Tensor col = registerParameter(\"col\", Tensor.randn(3, 1).requiresGrad(true));",
        "  final Linear head = new Linear(8, 3);",
        "  @Override public Tensor forward(Tensor x) {",
        "    x = b.apply(a.apply(x)).add(table.to(x.device()));",
        "    Tensor t = table.expand(x.size(0), 2, -1);",
        "    Tensor r = row.expand(x.size(0), 2, 8);",
        "    Tensor k = col.expand(x.size(0), 3, 8);",
        "    x = Tensor.cat(java.util.List.of(r, x, t, k), 1);",
        "    Tensor m = x.mean(1).unsqueeze(1).squeeze(2);",
        "    return head.apply(m.squeeze(1));",
        "  }",
        "}");
    Compilation c = ProcessorTest.compile(f);
    assertThat(c).succeededWithoutWarnings();
    ClassLoader loader = new ParityTest.CompiledClasses(c);
    Kiln.manualSeed(11);
    Module eager = ParityTest.factory(loader, "test.PortConstructs").get();
    Kiln.manualSeed(11);
    Module compiled = ParityTest.factory(loader, "test.KilnPortConstructs").get();
    Tensor input = Tensor.randn(5, 6, 8);
    Tensor[][] r = new Tensor[2][];
    Tensor[] xs = new Tensor[2];
    Module[] m = {eager, compiled};
    for (int i = 0; i < 2; i++) {
      xs[i] = Tensor.of(input.toFloatArray(), input.shape()).requiresGrad(true);
      r[i] = step(m[i], xs[i], Tensor.labels(0, 1, 2, 1, 0));
    }
    ParityTest.assertClose("logits", r[1][0].toFloatArray(), r[0][0].toFloatArray(), 1e-5);
    ParityTest.assertClose("input gradient", xs[1].grad().toFloatArray(), xs[0].grad().toFloatArray(), 1e-5);
    ParityTest.assertParameterGradients("port constructs", eager, compiled, 1e-5);
  }
}
