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

  /** The zoo's sources compiled together (TimeSequenceCells, eager only, beside them). */
  private static final Compilation COMPILATION = ProcessorTest.compile(
      List.of("WordLstm", "WordGru", "WordRnnTanh", "WordTransformer", "TimeSequence", "TimeSequenceCells", "MnistRnn", "CnnText")
          .stream().map(m -> ProcessorTest.model("zoo/" + m)).toArray(javax.tools.JavaFileObject[]::new));

  private static Module create(String className) {
    return ParityTest.factory(new ParityTest.CompiledClasses(COMPILATION), "test." + className).get();
  }

  /** A batch of the model's input: token ids [n, 12] below 50, or floats of its sample shape. */
  private static Tensor input(String model, int n) {
    return switch (model) {
      case "MnistRnn" -> Tensor.randn(n, 1, 12, 12);
      case "TimeSequence" -> Tensor.randn(n, 12);
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
  private static Tensor loss(Tensor out) {
    return out.mul(filled(out.shape(), 0.71, 0.3)).sum();
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
  @CsvSource({"WordLstm", "WordGru", "WordRnnTanh", "WordTransformer", "TimeSequence", "MnistRnn", "CnnText"})
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
      boolean floats = !model.startsWith("Word") && !model.equals("CnnText");
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
      boolean floats = model.equals("MnistRnn") || model.equals("TimeSequenceCells");
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
}
