package dev.kiln.processor;

import static com.google.testing.compile.CompilationSubject.assertThat;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.testing.compile.Compilation;
import dev.kiln.dsl.Module;
import dev.kiln.runtime.Kiln;
import dev.kiln.runtime.Tensor;
import dev.kiln.runtime.optim.SGD;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Function;
import javax.tools.JavaFileObject;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * The sequence and text models of pytorch/examples ported to Kiln as a Java developer would
 * (processor/src/test/resources/models/zoo): word_language_model's RNNModel (LSTM tied, GRU tied, RNN_TANH) and
 * TransformerModel, time_sequence_prediction's Sequence, mnist_rnn's Net and Kim's text CNN. Each compiles; compiled
 * and eager mode agree on outputs, losses and every gradient over SGD steps in training (dropout drawn alike) and in
 * evaluation; and both give PyTorch 1.13's outputs and gradients for the same weights (zoo_sequence/reference.txt, from
 * its make_reference.py). docs/design-notes.md, "Model zoo: sequence and text models", lists what each port needed.
 */
class ZooSequenceTest {
  private static final Map<String, Tensor> REFERENCE = new HashMap<>();
  private static final Map<String, List<String>> PARAMS = new HashMap<>();

  static {
    try (InputStream in = ZooSequenceTest.class.getResourceAsStream("/zoo_sequence/reference.txt")) {
      for (String line : new String(in.readAllBytes(), StandardCharsets.UTF_8).split("\n")) {
        String[] f = line.trim().split(" ");
        if (line.startsWith("# ")) { // # <model>.params k1,k2,...
          PARAMS.put(f[1].substring(0, f[1].indexOf('.')), List.of(f[2].split(",")));
          continue;
        }
        String dims = f[1].substring(1, f[1].length() - 1);
        int[] shape = dims.isEmpty() ? new int[0] : Arrays.stream(dims.split(",")).mapToInt(Integer::parseInt).toArray();
        float[] v = new float[f.length - 2];
        for (int i = 0; i < v.length; i++) {
          v[i] = Float.parseFloat(f[i + 2]);
        }
        REFERENCE.put(f[0], Tensor.of(v, shape));
      }
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** The zoo's sources compiled together, with CellSteps (cells stepped by hand over a constant number of steps). */
  private static final Compilation COMPILATION = ProcessorTest.compile(
      List.of("WordLstm", "WordGru", "WordRnnTanh", "WordTransformer", "TimeSequence", "TimeSequenceCells", "MnistRnn", "CnnText",
          "CellSteps").stream().map(m -> ProcessorTest.model("zoo/" + m)).toArray(javax.tools.JavaFileObject[]::new));

  static Module create(String className) {
    return ParityTest.factory(new ParityTest.CompiledClasses(COMPILATION), "test." + className).get();
  }

  /** Whether the model reads floats (else token ids). */
  static boolean floats(String model) {
    return model.equals("MnistRnn") || model.startsWith("TimeSequence") || model.equals("CellSteps");
  }

  /** A batch of the model's input: token ids [n, 12] below 50, or floats of its sample shape. */
  static Tensor input(String model, int n) {
    return switch (model) {
      case "MnistRnn" -> Tensor.randn(n, 1, 12, 12);
      case "TimeSequence", "TimeSequenceCells" -> Tensor.randn(n, 12);
      case "CellSteps" -> Tensor.randn(n, 6, 3);
      default -> ParityTest.ids(n, 12, 50);
    };
  }

  /** {@code sin(scale i + shift)} over a shape in float, as make_reference.py computes it. */
  private static Tensor filled(int[] shape, double scale, double shift) {
    float[] v = new float[Arrays.stream(shape).reduce(1, (a, b) -> a * b)];
    for (int i = 0; i < v.length; i++) {
      v[i] = (float) Math.sin((float) i * (float) scale + (float) shift);
    }
    return Tensor.of(v, shape);
  }

  /** The scripts' loss: {@code sum(out * sin(0.71 i + 0.3))}. */
  static Tensor loss(Tensor out) {
    return out.mul(weights(out.shape())).sum();
  }

  /** The loss's weights over an output's shape, {@code sin(0.71 i + 0.3)}. */
  static Tensor weights(int[] shape) {
    return filled(shape, 0.71, 0.3);
  }

  @Test
  void everyPortCompilesWithoutWarnings() {
    assertThat(COMPILATION).succeededWithoutWarnings();
  }

  /**
   * Compiled and eager mode, built from one seed: outputs, the loss and every gradient (and a float input's) within
   * 1e-5 relative norm at the first of three SGD steps with momentum in training (1e-4 at the later ones, and the
   * parameters after them, as ParityTest's steps), the same dropout draws for both; outputs in evaluation before
   * and after, over another batch size.
   */
  @ParameterizedTest
  @CsvSource({"WordLstm", "WordGru", "WordRnnTanh", "WordTransformer", "TimeSequence", "MnistRnn", "CnnText", "CellSteps", "TimeSequenceCells"})
  void compiledMatchesEager(String model) {
    assertThat(COMPILATION).succeededWithoutWarnings();
    Kiln.manualSeed(11);
    Module eager = create(model);
    Kiln.manualSeed(11);
    Module compiled = create("Kiln" + model);
    assertEquals(List.copyOf(eager.stateDict().keySet()), List.copyOf(compiled.stateDict().keySet()), "state-dict keys");
    evaluationMatches(model, eager, compiled, 1e-5);
    SGD optE = new SGD(eager.parameters(), 0.1).momentum(0.9);
    SGD optC = new SGD(compiled.parameters(), 0.1).momentum(0.9);
    Map<String, Tensor> ep = eager.namedParameters();
    Map<String, Tensor> cp = compiled.namedParameters();
    for (int step = 0; step < 3; step++) {
      Kiln.manualSeed(100 + step);
      Tensor x = input(model, 4);
      boolean floats = floats(model);
      Tensor xe = floats ? Tensor.of(x.toFloatArray(), x.shape()).requiresGrad(true) : x;
      Tensor xc = floats ? Tensor.of(x.toFloatArray(), x.shape()).requiresGrad(true) : x;
      optE.zeroGrad();
      optC.zeroGrad();
      Kiln.manualSeed(300 + step);
      Tensor outE = eager.forward(xe);
      Tensor lossE = loss(outE);
      lossE.backward();
      Kiln.manualSeed(300 + step);
      Tensor outC = compiled.forward(xc);
      Tensor lossC = loss(outC);
      lossC.backward();
      String at = model + " at step " + step;
      double tolerance = step == 0 ? 1e-5 : 1e-4; // (after a step the parameters differ by rounding: ParityTest's 1e-4)
      assertArrayEquals(outE.shape(), outC.shape(), at + ": output shape");
      ParityTest.assertClose(at + ": output", outC.toFloatArray(), outE.toFloatArray(), tolerance);
      ParityTest.assertClose(at + ": loss", new float[] {lossC.item()}, new float[] {lossE.item()}, tolerance);
      if (floats) {
        ParityTest.assertClose(at + ": input gradient", xc.grad().toFloatArray(), xe.grad().toFloatArray(), tolerance);
      }
      ep.forEach((k, v) -> ParityTest.assertClose(at + ": " + k + " gradient", cp.get(k).grad().toFloatArray(),
          v.grad().toFloatArray(), tolerance));
      optE.step();
      optC.step();
    }
    ep.forEach((k, v) -> ParityTest.assertClose(model + ": " + k + " after 3 steps", cp.get(k).toFloatArray(), v.toFloatArray(), 1e-4));
    evaluationMatches(model, eager, compiled, 1e-4);
  }

  /** Both models' outputs in evaluation, without gradients, for a batch of 3, within {@code tolerance}; then training again. */
  private static void evaluationMatches(String model, Module eager, Module compiled, double tolerance) {
    eager.eval();
    compiled.eval();
    try (var g = Kiln.noGrad()) {
      Tensor x = input(model, 3);
      ParityTest.assertClose(model + ": output in evaluation", compiled.forward(x).toFloatArray(), eager.forward(x).toFloatArray(), tolerance);
    }
    eager.train();
    compiled.train();
  }

  /**
   * The ports given make_reference.py's weights (filled in PyTorch's named_parameters() order, which Kiln's must be) in
   * evaluation give PyTorch 1.13's outputs and gradients: eager and compiled alike. The compiled TimeSequence runs the
   * steps over the input with its two LSTMs: PyTorch's first 12 outputs; TimeSequenceCells predicts 3 more eagerly.
   */
  @ParameterizedTest
  @CsvSource({"WordLstm", "WordGru", "WordRnnTanh", "WordTransformer", "MnistRnn", "CnnText", "TimeSequenceCells"})
  void portsGivePyTorchsOutputsAndGradients(String model) {
    for (String className : model.equals("TimeSequenceCells") ? List.of(model) : List.of(model, "Kiln" + model)) {
      Module m = create(className);
      fill(m, model, Function.identity());
      Tensor given = REFERENCE.get(model + ".input");
      boolean floats = floats(model);
      Tensor x = floats ? Tensor.of(given.toFloatArray(), given.shape()).requiresGrad(true) : asIds(given);
      Tensor out = model.equals("TimeSequenceCells") ? predict(m, x, 3) : m.forward(x);
      loss(out).backward();
      close(className + ": output", out, model + ".out", 1e-4);
      if (floats) {
        close(className + ": input gradient", x.grad(), model + ".grad.input", 1e-4);
      }
      m.namedParameters().forEach((k, p) -> close(className + ": " + k + " gradient", p.grad(), model + ".grad." + k, 1e-4));
    }
  }

  /** The compiled TimeSequence and the cells stepped eagerly (future 0) give one output and gradients, the keys renamed. */
  @Test
  void compiledTimeSequenceIsTheCellsOverTheInput() {
    Module cells = create("TimeSequenceCells");
    fill(cells, "TimeSequenceCells", Function.identity());
    Module compiled = create("KilnTimeSequence");
    Function<String, String> layerKey = k -> k.startsWith("lstm") ? k + "_l0" : k; // lstm1.weight_ih: lstm1.weight_ih_l0
    fill(compiled, "TimeSequenceCells", layerKey);
    Tensor given = REFERENCE.get("TimeSequenceCells.input");
    Tensor xe = Tensor.of(given.toFloatArray(), given.shape()).requiresGrad(true);
    Tensor xc = Tensor.of(given.toFloatArray(), given.shape()).requiresGrad(true);
    Tensor outE = cells.forward(xe);
    Tensor outC = compiled.forward(xc);
    loss(outE).backward();
    loss(outC).backward();
    ParityTest.assertClose("output", outC.toFloatArray(), outE.toFloatArray(), 1e-5);
    Tensor pytorch = REFERENCE.get("TimeSequenceCells.out").narrow(1, 0, 12);
    ParityTest.assertClose("PyTorch's first 12 outputs", outC.toFloatArray(), pytorch.toFloatArray(), 1e-5);
    ParityTest.assertClose("input gradient", xc.grad().toFloatArray(), xe.grad().toFloatArray(), 1e-5);
    Map<String, Tensor> cp = compiled.namedParameters();
    cells.namedParameters().forEach((k, p) -> ParityTest.assertClose(k + " gradient", cp.get(layerKey.apply(k)).grad().toFloatArray(),
        p.grad().toFloatArray(), 1e-5));
    // the cells compiled as written (future 0: forward(input) calls forward(input, 0), inlined), PyTorch's first 12 outputs
    Module compiledCells = create("KilnTimeSequenceCells");
    fill(compiledCells, "TimeSequenceCells", Function.identity());
    Tensor xk = Tensor.of(given.toFloatArray(), given.shape()).requiresGrad(true);
    Tensor outK = compiledCells.forward(xk);
    loss(outK).backward();
    ParityTest.assertClose("compiled cells: PyTorch's first 12 outputs", outK.toFloatArray(), pytorch.toFloatArray(), 1e-5);
    ParityTest.assertClose("compiled cells: input gradient", xk.grad().toFloatArray(), xe.grad().toFloatArray(), 1e-5);
    Map<String, Tensor> kp = compiledCells.namedParameters();
    cells.namedParameters().forEach((k, p) -> ParityTest.assertClose("compiled cells: " + k + " gradient", kp.get(k).grad().toFloatArray(),
        p.grad().toFloatArray(), 1e-5));
  }

  /**
   * word_language_model's {@code output, hidden = model(data, hidden)}: WordLstm.forwardFrom from given states (each
   * sample's [2 * 16] row) gives PyTorch's log-probabilities, h_n and c_n, and the gradients of the parameters and of
   * the states, eager and compiled.
   */
  @Test
  void theHiddenStateGoesInAndOutAsPyTorchs() throws ReflectiveOperationException {
    for (String className : List.of("WordLstm", "KilnWordLstm")) {
      Module m = create(className);
      fill(m, "WordLstm", Function.identity());
      Tensor h = copy("WordLstmHidden.h").requiresGrad(true);
      Tensor c = copy("WordLstmHidden.c").requiresGrad(true);
      List<Tensor> outs = forwardFrom(m, asIds(REFERENCE.get("WordLstmHidden.ids")), h, c);
      loss(outs.get(0)).add(outs.get(1).mul(filled(outs.get(1).shape(), 0.43, Math.PI / 2)).sum())
          .add(outs.get(2).mul(filled(outs.get(2).shape(), 0.29, Math.PI / 2)).sum()).backward();
      close(className + ": log-probabilities", outs.get(0), "WordLstmHidden.out", 1e-4);
      close(className + ": h_n", outs.get(1), "WordLstmHidden.hN", 1e-4);
      close(className + ": c_n", outs.get(2), "WordLstmHidden.cN", 1e-4);
      close(className + ": h gradient", h.grad(), "WordLstmHidden.grad.h", 1e-4);
      close(className + ": c gradient", c.grad(), "WordLstmHidden.grad.c", 1e-4);
      m.namedParameters().forEach((k, p) -> close(className + ": " + k + " gradient", p.grad(), "WordLstmHidden.grad." + k, 1e-4));
    }
  }

  /**
   * The example's training loop, truncated back-propagation through time: two chunks, the second from the first's states
   * detached (repackage_hidden), in training with dropout; compiled and eager give the same outputs, states and gradients.
   */
  @Test
  void truncatedBackPropagationThroughTimeMatchesEager() throws ReflectiveOperationException {
    Kiln.manualSeed(5);
    Module eager = create("WordLstm");
    Kiln.manualSeed(5);
    Module compiled = create("KilnWordLstm");
    Tensor[] hidden = {Tensor.zeros(4, 32), Tensor.zeros(4, 32), Tensor.zeros(4, 32), Tensor.zeros(4, 32)};
    for (int chunk = 0; chunk < 2; chunk++) {
      Kiln.manualSeed(40 + chunk);
      Tensor ids = ParityTest.ids(4, 12, 50);
      eager.zeroGrad();
      compiled.zeroGrad();
      List<List<Tensor>> outs = new ArrayList<>();
      for (int i = 0; i < 2; i++) {
        Kiln.manualSeed(70 + chunk);
        List<Tensor> o = forwardFrom(i == 0 ? eager : compiled, ids, hidden[2 * i], hidden[2 * i + 1]);
        loss(o.get(0)).add(o.get(1).sum()).add(o.get(2).mean()).backward();
        hidden[2 * i] = Tensor.of(o.get(1).toFloatArray(), o.get(1).shape()); // detached: the next chunk's start
        hidden[2 * i + 1] = Tensor.of(o.get(2).toFloatArray(), o.get(2).shape());
        outs.add(o);
      }
      for (int k = 0; k < 3; k++) {
        ParityTest.assertClose("chunk " + chunk + ": output " + k, outs.get(1).get(k).toFloatArray(), outs.get(0).get(k).toFloatArray(), 1e-5);
      }
      Map<String, Tensor> cp = compiled.namedParameters();
      int at = chunk;
      eager.namedParameters().forEach((k, v) -> ParityTest.assertClose("chunk " + at + ": " + k + " gradient",
          cp.get(k).grad().toFloatArray(), v.grad().toFloatArray(), 1e-5));
    }
  }

  /** {@code m.forwardFrom(ids, h, c)}'s log-probabilities, h_n and c_n. */
  private static List<Tensor> forwardFrom(Module m, Tensor ids, Tensor h, Tensor c) throws ReflectiveOperationException {
    Object result = m.getClass().getMethod("forwardFrom", Tensor.class, Tensor.class, Tensor.class).invoke(m, ids, h, c);
    return ParityTest.tensorsOf(result);
  }

  private static Tensor copy(String key) {
    Tensor t = REFERENCE.get(key);
    return Tensor.of(t.toFloatArray(), t.shape());
  }

  /**
   * Fills {@code m}'s parameters as make_reference.py fills the model {@code model}'s, by PyTorch's parameter order (its
   * names through {@code rename} Kiln's), and its batch norms' running statistics; then evaluation mode.
   */
  private static void fill(Module m, String model, Function<String, String> rename) {
    List<String> names = PARAMS.get(model);
    assertEquals(names.stream().map(rename).toList(), List.copyOf(m.namedParameters().keySet()), model + ": PyTorch's parameters, in order");
    try (var g = Kiln.noGrad()) {
      for (int k = 0; k < names.size(); k++) {
        Tensor p = m.namedParameters().get(rename.apply(names.get(k)));
        p.copyFrom(filled(p.shape(), 0.37, 0.5 * k).mul(0.2f));
      }
      m.stateDict().forEach((key, b) -> {
        if (key.endsWith("running_mean")) {
          b.copyFrom(filled(b.shape(), 0.61, 0.2));
        } else if (key.endsWith("running_var")) {
          b.copyFrom(filled(b.shape(), 0.61, Math.PI / 2).mul(0.5f).add(1f));
        }
      });
    }
    m.eval();
  }

  /** TimeSequenceCells' {@code forward(input, future)}, PyTorch's {@code seq(input, future=3)}. */
  private static Tensor predict(Module cells, Tensor x, int future) {
    try {
      return (Tensor) cells.getClass().getMethod("forward", Tensor.class, int.class).invoke(cells, x, future);
    } catch (ReflectiveOperationException e) {
      throw new AssertionError(e);
    }
  }

  private static Tensor asIds(Tensor given) {
    float[] v = given.toFloatArray();
    int[] ids = new int[v.length];
    for (int i = 0; i < v.length; i++) {
      ids[i] = (int) v[i];
    }
    return Tensor.labels(ids).reshape(given.shape());
  }

  /** Asserts {@code actual} has the reference's shape and values within {@code tolerance * max(1, |expected|)}. */
  private static void close(String what, Tensor actual, String key, double tolerance) {
    Tensor expected = REFERENCE.get(key);
    assertNotNull(expected, "reference.txt has no " + key);
    assertNotNull(actual, what + ": no tensor");
    assertArrayEquals(expected.shape(), actual.shape(), what + ": shape");
    float[] e = expected.toFloatArray();
    float[] a = actual.toFloatArray();
    List<String> off = new ArrayList<>();
    for (int i = 0; i < e.length && off.size() < 5; i++) {
      if (!(Math.abs(e[i] - a[i]) <= tolerance * Math.max(1, Math.abs(e[i])))) {
        off.add("[" + i + "] " + a[i] + " for " + e[i]);
      }
    }
    assertTrue(off.isEmpty(), what + " differs from PyTorch's: " + off);
  }

  // ---------------------------------------------------------------- what the ports needed: errors on the line

  /** word_language_model's {@code decoded.view(-1, ntoken)} folds each sample's rows into the batch: named, with the way out. */
  @Test
  void aViewFoldingRowsIntoTheBatchSaysToViewOutsideForward() {
    ProcessorTest.returnIsAnErrorOnItsLine("FoldedRows", "h.view(-1, 6)", "h.view(-1, 6): reshape(-1, 6) cannot take [N, 4, 6]: it"
        + " would fold 4 rows of each sample into the batch ([N * 4, 6]), and a compiled forward keeps dimension 0 as the batch of"
        + " the model's input; keep the rows (reshape(x, -1, 4, 6)) and view the output outside forward (out.view(-1, 6) before"
        + " the loss)");
  }

  /** unsqueeze and squeeze of the batch, or out of range, are errors on their line naming the shape. */
  @ParameterizedTest
  @CsvSource(delimiter = '|', value = {
    "h.unsqueeze(0)|h.unsqueeze(0): a compiled forward keeps dimension 0 of [N, 4, 6] as the batch, so it adds a dimension after"
        + " it (x.unsqueeze(1)); leave out @Model to run it eagerly",
    "h.squeeze(-3)|h.squeeze(-3): a compiled forward keeps dimension 0 of [N, 4, 6] as the batch, so it squeezes a dimension"
        + " after it (x.squeeze(1)); leave out @Model to run it eagerly",
    "h.unsqueeze(4)|h.unsqueeze(4): dimension 4 is out of range for a new dimension of [N, 4, 6] (from -4 to 3)",
    "h.squeeze(3)|h.squeeze(3): dimension 3 is out of range for [N, 4, 6] (from -3 to 2)",
  })
  void squeezesOfTheBatchOrOutOfRangeAreErrors(String call, String message) {
    ProcessorTest.returnIsAnErrorOnItsLine("Squeezes", call, message);
  }

  /** A view after the batch: unsqueeze(-1), squeeze of a 1 and of another size (the value as it is), as eager mode. */
  @Test
  void squeezesAfterTheBatchAreEagerModes() {
    JavaFileObject f = ProcessorTest.classModel("Squeezed",
        "@Model(input = {4, 6})",
        "public class Squeezed extends Module {",
        "  final Conv2d conv = new Conv2d(1, 3, 2, 6);",
        "  @Override public Tensor forward(Tensor x) {",
        "    Tensor h = relu(conv.apply(x.unsqueeze(1))).squeeze(-1);", // [N, 1, 4, 6] -> [N, 3, 3, 1] -> [N, 3, 3]
        "    return h.squeeze(1).unsqueeze(-1).mul(2f);",                // [N, 3, 3] -> [N, 3, 3, 1]
        "  }",
        "}");
    Compilation c = ProcessorTest.compile(f);
    assertThat(c).succeededWithoutWarnings();
    ClassLoader loader = new ParityTest.CompiledClasses(c);
    Kiln.manualSeed(2);
    Module eager = ParityTest.factory(loader, "test.Squeezed").get();
    Kiln.manualSeed(2);
    Module compiled = ParityTest.factory(loader, "test.KilnSqueezed").get();
    Tensor x = Tensor.randn(5, 4, 6);
    Tensor xe = Tensor.of(x.toFloatArray(), x.shape()).requiresGrad(true), xc = Tensor.of(x.toFloatArray(), x.shape()).requiresGrad(true);
    Tensor outE = eager.forward(xe), outC = compiled.forward(xc);
    assertArrayEquals(new int[] {5, 3, 3, 1}, outC.shape());
    assertArrayEquals(outE.toFloatArray(), outC.toFloatArray());
    loss(outE).backward();
    loss(outC).backward();
    assertArrayEquals(xe.grad().toFloatArray(), xc.grad().toFloatArray(), "input gradient");
    assertArrayEquals(eager.namedParameters().get("conv.weight").grad().toFloatArray(),
        compiled.namedParameters().get("conv.weight").grad().toFloatArray(), "conv.weight gradient");
  }

  /** A list local is built by add alone, read where something was added: other calls and an empty read are errors on the line. */
  @ParameterizedTest
  @CsvSource(delimiter = '|', value = {
    "xs.clear();|forward: xs.clear(): a list of values in a compiled forward is built by add(value) alone (List<Tensor> xs = new"
        + " ArrayList<>(); then add, a for loop over it, Tensor.cat of it)",
    "Tensor.cat(xs, 1);|forward: Tensor.cat(xs, 1) reads xs where nothing was added to it yet",
  })
  void listsOfValuesAreBuiltByAdd(String statement, String message) {
    JavaFileObject f = ProcessorTest.classModel("Listed",
        "@Model(input = {4, 6})",
        "public class Listed extends Module {",
        "  final Linear fc = new Linear(6, 6);",
        "  @Override public Tensor forward(Tensor x) {",
        "    java.util.List<Tensor> xs = new java.util.ArrayList<>();",
        "    Tensor h = " + (statement.startsWith("Tensor.cat") ? statement : "fc.apply(x);"),
        "    " + (statement.startsWith("Tensor.cat") ? "" : statement),
        "    return fc.apply(h);",
        "  }",
        "}");
    assertThat(ProcessorTest.compile(f)).hadErrorContaining(message).inFile(f).onLineContaining(statement);
  }

  /** time_sequence_prediction's LSTMCells: the error names the layer that runs a sequence, and eager mode for the fed-back loop. */
  /**
   * A cell's zero state of another shape than (N, hidden_size) is an error on the step's line naming the shape to write; a
   * loop over steps whose count is known only at run time stays refused on its line.
   */
  @Test
  void aCellsStateOfAnotherShapeAndARunTimeCountAreErrors() {
    JavaFileObject f = ProcessorTest.classModel("Cells",
        "@Model(input = {12})",
        "public class Cells extends Module {",
        "  final GRUCell cell = new GRUCell(1, 8);",
        "  @Override public Tensor forward(Tensor x) {",
        "    Tensor h = Tensor.zeros(x.size(0), 4);",
        "    return cell.step(x.narrow(1, 0, 1), h);",
        "  }",
        "}");
    assertThat(ProcessorTest.compile(f)).hadErrorContaining("cell.step(x.narrow(1, 0, 1), h): expected hx of shape (N, 8) (N, hidden_size)"
        + " for GRUCell(1, 8), got h = Tensor.zeros(x.size(0), 4)").inFile(f).onLineContaining("return cell.step(");
    JavaFileObject g = ProcessorTest.classModel("RunTimeSteps",
        "@Model(input = {12})",
        "public class RunTimeSteps extends Module {",
        "  final GRUCell cell = new GRUCell(1, 8);",
        "  @Override public Tensor forward(Tensor x) {",
        "    Tensor h = Tensor.zeros(x.size(0), 8);",
        "    for (int t = 0; t < x.size(0); t++) {",
        "      h = cell.step(x.narrow(1, 0, 1), h);",
        "    }",
        "    return h;",
        "  }",
        "}");
    assertThat(ProcessorTest.compile(g)).hadErrorContaining("unsupported loop in forward: its bound x.size(0) is the batch size, which"
        + " varies from call to call").inFile(g).onLineContaining("for (int t = 0; t < x.size(0); t++)");
  }

  /** A cell's step from zero states (written as zeros, or none: apply) compiles, its weights the cell's. */
  @Test
  void aCellStepFromZeroStatesCompiles() {
    JavaFileObject f = ProcessorTest.classModel("OneCell",
        "@Model(input = {12})",
        "public class OneCell extends Module {",
        "  final LSTMCell cell = new LSTMCell(1, 8);",
        "  final GRUCell gru = new GRUCell(8, 8);",
        "  @Override public Tensor forward(Tensor x) {",
        "    Tensor h = Tensor.zeros(x.size(0), 8);",
        "    Tensor c = Tensor.zeros(x.size(0), 8);",
        "    RecurrentCell.State s = cell.step(x.narrow(1, 0, 1), h, c);",
        "    return gru.apply(s.h());",
        "  }",
        "}");
    assertThat(ProcessorTest.compile(f)).succeededWithoutWarnings();
  }

  /** A tensor field transposed in place keeps its values' order ([S, 1, D] as [1, S, D]); one that would move them is refused. */
  @Test
  void aFieldTransposedOutOfOrderIsAnError() {
    JavaFileObject f = ProcessorTest.classModel("Moved",
        "@Model(input = {4, 6})",
        "public class Moved extends Module {",
        "  final Tensor table = registerBuffer(\"table\", Tensor.randn(6, 4));",
        "  @Override public Tensor forward(Tensor x) { return x.add(table.transpose(0, 1)); }",
        "}");
    assertThat(ProcessorTest.compile(f)).hadErrorContaining("it would move the values of [6, 4] out of their order, which a tensor"
        + " field read in place keeps; transpose the value it is added to, or declare the field in the order forward reads it")
        .inFile(f).onLineContaining("table.transpose(0, 1)");
  }
}
