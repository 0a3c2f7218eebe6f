package dev.kiln.processor;

import static com.google.testing.compile.CompilationSubject.assertThat;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.testing.compile.Compilation;
import dev.kiln.dsl.CrossEntropyLoss;
import dev.kiln.dsl.Module;
import dev.kiln.runtime.Device;
import dev.kiln.runtime.Kiln;
import dev.kiln.runtime.Tensor;
import java.util.List;
import java.util.function.Consumer;
import javax.tools.JavaFileObject;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * Conditions on the training mode in forward ({@code if (isTraining())}, {@code !isTraining()}, {@code isTraining() ? a :
 * b}, in forward, a block and the model's own method): the compiled class plans forward once per mode and runs the
 * graph of the call's mode, bit for bit eager mode's in values and gradients, switching between calls; what follows a
 * condition must have one shape in both modes, else an error on the condition's line names both.
 */
class TrainingModesTest {
  /** Eager and compiled TrainingModes from one seed (the same parameters). */
  private static Module[] models() {
    Compilation c = ProcessorTest.compile(ProcessorTest.model("TrainingModes"));
    assertThat(c).succeededWithoutWarnings();
    ClassLoader loader = new ParityTest.CompiledClasses(c);
    Kiln.manualSeed(11);
    Module eager = ParityTest.factory(loader, "test.TrainingModes").get();
    Kiln.manualSeed(11);
    Module compiled = ParityTest.factory(loader, "test.KilnTrainingModes").get();
    return new Module[] {eager, compiled};
  }

  /** Four SGD steps in training and the output in evaluation, bit for bit eager mode's (ParityTest's rule). */
  @Test
  void eachModeMatchesEagerBitForBit() {
    ParityTest.matchesEagerBitForBit("TrainingModes", "6");
  }

  /**
   * Modes switched between calls (the model's, and the block's own apart from it: then the eager forward runs), each
   * call's output, loss, input and parameter gradients bit for bit eager's; in evaluation the auxiliary layer read in
   * training only gets no gradient, as in eager mode.
   */
  @Test
  void switchingModesBetweenCallsMatchesEager() {
    Module[] m = models();
    String[] modes = {"train", "eval", "train", "eval", "blockEval", "blockTrain", "train"};
    Kiln.manualSeed(3);
    for (int step = 0; step < modes.length; step++) {
      String mode = modes[step];
      float[] values = Tensor.randn(5, 6).toFloatArray();
      Tensor[] xs = new Tensor[2];
      float[][] outs = new float[2][];
      for (int i = 0; i < 2; i++) {
        Module model = m[i];
        model.train(!mode.equals("eval") && !mode.equals("blockTrain"));
        if (mode.startsWith("block")) { // the block's own mode apart from the model's
          model.getSubmodule("block").train(mode.equals("blockTrain"));
        }
        model.zeroGrad(true);
        xs[i] = Tensor.of(values, 5, 6).requiresGrad(true);
        Kiln.manualSeed(300 + step); // the same dropout draws
        Tensor out = model.forward(xs[i]);
        if (i == 1) { // the compiled graph of the call's mode; the eager forward where the block's mode is not the model's
          assertEquals(!mode.startsWith("block"), out.gradFn().name().equals("KilnTrainingModes.backward"),
              "step " + step + " (" + mode + ") ran " + out.gradFn().name());
        }
        new CrossEntropyLoss().apply(out, Tensor.labels(0, 2, 1, 1, 0)).backward();
        outs[i] = out.toFloatArray();
      }
      String at = "step " + step + " (" + mode + ")";
      assertArrayEquals(outs[0], outs[1], at + ": output");
      assertArrayEquals(xs[0].grad().toFloatArray(), xs[1].grad().toFloatArray(), at + ": input gradient");
      ParityTest.assertParameterGradients(at, m[0], m[1], 0);
      if (mode.equals("eval")) {
        assertTrue(m[1].namedParameters().get("aux.weight").grad() == null, at + ": the auxiliary layer got a gradient");
      }
    }
  }

  /**
   * Blocks of a ModuleList reading their own modes, a ?: on the model's in the loop: bit for bit eager's in each mode;
   * with one block in another mode than the model's, the eager forward (eager's values, its own node).
   */
  @Test
  void blocksInAListReadTheirOwnModes() {
    Module compiled = ParityTest.matchesEagerBitForBit("ModeBlocks", "6");
    Module eager = ParityTest.factory(compiled.getClass().getClassLoader(), "test.ModeBlocks").get();
    eager.loadStateDict(compiled.stateDict());
    for (Module m : new Module[] {eager, compiled}) {
      m.train();
      m.getSubmodule("h.1").eval();
    }
    Tensor x = Tensor.randn(4, 6);
    Tensor out = compiled.forward(x);
    assertArrayEquals(eager.forward(x).toFloatArray(), out.toFloatArray(), "h.1 in evaluation, the model in training");
    assertTrue(!out.gradFn().name().startsWith("KilnModeBlocks"), "a compiled graph ran: " + out.gradFn().name());
  }

  /** A backward after the mode changed follows the mode its forward ran in (each mode's graph its own node). */
  @Test
  void backwardFollowsTheModeOfItsForward() {
    Module[] m = models();
    Kiln.manualSeed(4);
    float[] values = Tensor.randn(5, 6).toFloatArray();
    float[][] grads = new float[2][];
    for (int i = 0; i < 2; i++) {
      m[i].train();
      Kiln.manualSeed(7);
      Tensor inTraining = m[i].forward(Tensor.of(values, 5, 6));
      m[i].eval();
      Tensor inEvaluation = m[i].forward(Tensor.of(values, 5, 6));
      assertTrue(ParityTest.relativeError(inTraining.toFloatArray(), inEvaluation.toFloatArray()) > 1e-3, "the modes differ");
      new CrossEntropyLoss().apply(inTraining, Tensor.labels(0, 2, 1, 1, 0)).backward();
      grads[i] = m[i].namedParameters().get("aux.weight").grad().toFloatArray();
    }
    assertArrayEquals(grads[0], grads[1], "aux.weight gradient of the forward in training, after eval()");
    ParityTest.assertParameterGradients("backward after eval()", m[0], m[1], 0);
  }

  /** Under noGrad (inference) in each mode, one call after another: eager's values. */
  @Test
  void inferenceInEachModeMatchesEager() {
    Module[] m = models();
    try (var g = Kiln.noGrad()) {
      for (boolean training : new boolean[] {false, true, false}) {
        Tensor x = Tensor.randn(3, 6);
        float[][] outs = new float[2][];
        for (int i = 0; i < 2; i++) {
          m[i].train(training);
          Kiln.manualSeed(9);
          outs[i] = m[i].forward(x).toFloatArray();
        }
        assertArrayEquals(outs[0], outs[1], "training " + training);
      }
    }
  }

  /**
   * Conditions joining the mode with sizes after the batch (of the input, of an expression, of a weight) fold in each mode:
   * bit for bit eager's in training and in evaluation, the gradients of a forward in evaluation too; the layer whose
   * output's size alone a condition reads gets no gradient in either.
   */
  @Test
  void conditionsOnTheModeAndSizesMatchEagerInBothModes() {
    Module compiled = ParityTest.matchesEagerBitForBit("SizedModes", "6");
    Module eager = ParityTest.factory(compiled.getClass().getClassLoader(), "test.SizedModes").get();
    eager.loadStateDict(compiled.stateDict());
    Kiln.manualSeed(8);
    float[] values = Tensor.randn(5, 6).toFloatArray();
    Tensor[] xs = new Tensor[2];
    float[][] outs = new float[2][];
    Module[] m = {eager, compiled};
    for (int i = 0; i < 2; i++) {
      m[i].eval();
      m[i].zeroGrad(true);
      xs[i] = Tensor.of(values, 5, 6).requiresGrad(true);
      Tensor out = m[i].forward(xs[i]);
      new CrossEntropyLoss().apply(out, Tensor.labels(0, 2, 1, 1, 0)).backward();
      outs[i] = out.toFloatArray();
    }
    assertArrayEquals(outs[0], outs[1], "output in evaluation");
    assertArrayEquals(xs[0].grad().toFloatArray(), xs[1].grad().toFloatArray(), "input gradient in evaluation");
    ParityTest.assertParameterGradients("evaluation", eager, compiled, 0);
    assertTrue(compiled.namedParameters().get("wide.weight").grad() == null, "wide is read for a size alone");
    assertTrue(compiled.namedParameters().get("aux.weight").grad() == null, "aux runs in training only");
  }

  /**
   * Conditions on the mode in a method of several outputs and in one of several inputs: each compiled once per mode, the
   * call's mode picking the graph, switching between calls; outputs, input and parameter gradients eager mode's bit for
   * bit (the auxiliary layer, read in training only, without a gradient from a call in evaluation).
   */
  @Test
  void methodsOfSeveralOutputsAndInputsReadTheMode() throws ReflectiveOperationException {
    Module[] m = methodModels();
    Kiln.manualSeed(3);
    boolean[] modes = {true, false, true, false};
    for (int step = 0; step < modes.length; step++) {
      float[] values = Tensor.randn(5, 6).toFloatArray();
      float[] mask = Tensor.randn(5, 4).toFloatArray();
      Tensor[] xs = new Tensor[2];
      float[][] outs = new float[2][];
      for (int i = 0; i < 2; i++) {
        xs[i] = Tensor.of(values, 5, 6).requiresGrad(true);
        outs[i] = runMethods(m[i], modes[step], xs[i], Tensor.of(mask, 5, 4), 500 + step, i == 1 ? "KilnMethodModes" : null);
      }
      String at = "step " + step + " (training " + modes[step] + ")";
      assertArrayEquals(outs[0], outs[1], at + ": outputs");
      assertArrayEquals(xs[0].grad().toFloatArray(), xs[1].grad().toFloatArray(), at + ": input gradient");
      ParityTest.assertParameterGradients(at, m[0], m[1], 0);
      assertEquals(modes[step], m[1].namedParameters().get("aux.weight").grad() != null, at + ": aux's gradient");
    }
  }

  /** MethodModes' generated class: each method's two graphs beside forward's, and the overrides that pick one per call. */
  @Test
  void methodsReadingTheModeGenerateTheGoldenSource() throws java.io.IOException {
    Compilation c = ProcessorTest.compile(ProcessorTest.model("MethodModes"));
    assertThat(c).succeededWithoutWarnings();
    ProcessorTest.assertGolden(c, "KilnMethodModes", "KilnMethodModes.java");
  }

  /** Eager and compiled MethodModes from one seed (the same parameters). */
  private static Module[] methodModels() {
    Compilation c = ProcessorTest.compile(ProcessorTest.model("MethodModes"));
    assertThat(c).succeededWithoutWarnings();
    ClassLoader loader = new ParityTest.CompiledClasses(c);
    Kiln.manualSeed(11);
    Module eager = ParityTest.factory(loader, "test.MethodModes").get();
    Kiln.manualSeed(11);
    return new Module[] {eager, ParityTest.factory(loader, "test.KilnMethodModes").get()};
  }

  /**
   * MethodModes' heads(x) and mixed(x, mask) in the mode {@code training} (dropout drawn from {@code seed}), the sum of
   * their outputs' losses run backward (labels on {@code x}'s device); the three outputs side by side. {@code node}: the
   * name mixed's backward node must start with (the compiled graph ran), or null.
   */
  private static float[] runMethods(Module model, boolean training, Tensor x, Tensor mask, int seed, String node)
      throws ReflectiveOperationException {
    model.train(training);
    model.zeroGrad(true);
    Tensor y = Tensor.labels(0, 2, 1, 1, 0).to(x.device());
    Kiln.manualSeed(seed);
    List<Tensor> heads = ParityTest.tensorsOf(model.getClass().getMethod("heads", Tensor.class).invoke(model, x));
    Tensor out = (Tensor) model.getClass().getMethod("mixed", Tensor.class, Tensor.class).invoke(model, x, mask.to(x.device()));
    if (node != null) {
      assertTrue(out.gradFn().name().startsWith(node), "training " + training + " ran " + out.gradFn().name());
    }
    new CrossEntropyLoss().apply(heads.get(0), y).add(new CrossEntropyLoss().apply(heads.get(1), y))
        .add(new CrossEntropyLoss().apply(out, y)).backward();
    return Tensor.cat(List.of(heads.get(0), heads.get(1), out), 1).toFloatArray();
  }

  /** MethodModes on CUDA (the fake GPU here), heads and mixed in each mode one after another: eager's CPU values and gradients. */
  @Test
  @Tag("cuda")
  void methodsReadingTheModeOnCudaMatchEagerOnTheCpu() throws ReflectiveOperationException {
    Module[] m = methodModels();
    m[1].to(Device.cuda());
    Kiln.manualSeed(5);
    for (boolean training : new boolean[] {true, false, true}) {
      float[] values = Tensor.randn(5, 6).toFloatArray();
      Tensor mask = Tensor.randn(5, 4);
      Tensor[] xs = {Tensor.of(values, 5, 6).requiresGrad(true), Tensor.of(values, 5, 6).to(Device.cuda()).requiresGrad(true)};
      float[] eager = runMethods(m[0], training, xs[0], mask, 100, null); // the same dropout masks on both devices
      float[] cuda = runMethods(m[1], training, xs[1], mask, 100, null);
      ParityTest.assertClose("outputs, training " + training, cuda, eager, 1e-4);
      ParityTest.assertClose("input gradient, training " + training, xs[1].grad().toFloatArray(), xs[0].grad().toFloatArray(), 1e-4);
      ParityTest.assertParameterGradients("training " + training, m[0], m[1], 1e-4);
    }
  }

  /**
   * A method of several outputs whose joined values or outputs differ in shape between the modes, and a forward that returns
   * one output of a method reading the mode: errors on their lines.
   */
  @Test
  void methodsWhoseModesDisagreeAreErrors() {
    oneErrorOnLine(outputsModel("MethodModeShapes",
        "    Tensor b = isTraining() ? wide.apply(h) : h;",
        "    return new Out(h, b);"),
        "isTraining() ? wide.apply(h) : h is [N, 8] in training but [N, 6] in evaluation after this condition on the training"
            + " mode", "Tensor b = isTraining()");
    oneErrorOnLine(outputsModel("MethodModeReturns",
        "    if (isTraining()) return new Out(h, wide.apply(h));",
        "    return new Out(h, h);"),
        "both returns both(...).b() as [N, 8] in training but [N, 6] in evaluation", "if (isTraining()) return");

    JavaFileObject g = ProcessorTest.classModel("MethodModeDelegated",
        "@Model(input = {6})",
        "public class MethodModeDelegated extends Module {",
        "  public record Out(Tensor a, Tensor b) {}",
        "  final Linear fc = new Linear(6, 6);",
        "  @Override public Tensor forward(Tensor x) {",
        "    return both(x).a();",
        "  }",
        "  public Out both(Tensor x) {",
        "    Tensor h = fc.apply(x);",
        "    Tensor b = isTraining() ? h.mul(2) : h;",
        "    return new Out(h, b);",
        "  }",
        "}");
    Compilation c = ProcessorTest.compile(g);
    assertThat(c).hadErrorCount(1);
    assertThat(c).hadErrorContaining("forward returns both(x).a(), and both reads the training mode").inFile(g)
        .onLineContaining("public Tensor forward");
  }

  /**
   * A model of input [6] whose forward returns fc's output and whose method {@code Out both(Tensor x)} (a record of two
   * outputs, a and b) is {@code h = fc.apply(x)} then {@code body} (fc: Linear(6, 6), wide: Linear(6, 8)).
   */
  private static JavaFileObject outputsModel(String name, String... body) {
    List<String> lines = new java.util.ArrayList<>(List.of("@Model(input = {6})",
        "public class " + name + " extends Module {",
        "  public record Out(Tensor a, Tensor b) {}",
        "  final Linear fc = new Linear(6, 6);",
        "  final Linear wide = new Linear(6, 8);",
        "  @Override public Tensor forward(Tensor x) {",
        "    return fc.apply(x);",
        "  }",
        "  public Out both(Tensor x) {",
        "    Tensor h = fc.apply(x);"));
    lines.addAll(List.of(body));
    lines.addAll(List.of("  }", "}"));
    return ProcessorTest.classModel(name, lines.toArray(new String[0]));
  }

  /** A model of input [6] whose forward is {@code body} (fc: Linear(6, 6), wide: Linear(6, 8)). */
  private static JavaFileObject model(String name, String... body) {
    String[] lines = new String[body.length + 7];
    lines[0] = "@Model(input = {6})";
    lines[1] = "public class " + name + " extends Module {";
    lines[2] = "  final Linear fc = new Linear(6, 6);";
    lines[3] = "  final Linear wide = new Linear(6, 8);";
    lines[4] = "  @Override public Tensor forward(Tensor x) {";
    System.arraycopy(body, 0, lines, 5, body.length);
    lines[body.length + 5] = "  }";
    lines[body.length + 6] = "}";
    return ProcessorTest.classModel(name, lines);
  }

  /** {@code f} fails with one error, {@code message}, on the line containing {@code line}. */
  private static void oneErrorOnLine(JavaFileObject f, String message, String line) {
    Compilation c = ProcessorTest.compile(f);
    assertThat(c).hadErrorCount(1);
    assertThat(c).hadErrorContaining(message).inFile(f).onLineContaining(line);
  }

  /** The forms that compile: !isTraining(), this.isTraining(), ?:, a return in a branch, a condition with constants. */
  @Test
  void theFormsOfAConditionOnTheModeCompile() {
    Compilation c = ProcessorTest.compile(model("ModeForms",
        "    Tensor h = fc.apply(x);",
        "    if (!isTraining()) {",
        "      h = relu(h);",
        "    }",
        "    h = this.isTraining() ? h.mul(0.5) : h.add(1);",
        "    if (isTraining() && 2 > 1) {",
        "      return wide.apply(h);",
        "    } else {",
        "      Tensor w = wide.apply(h.sub(1));",
        "      return w;",
        "    }"));
    assertThat(c).succeededWithoutWarnings();
  }

  /** A local whose shape differs between the modes after the condition: an error on the if's line naming both shapes. */
  @Test
  void shapesThatDifferBetweenModesAreAnErrorOnTheCondition() {
    JavaFileObject f = model("ModeShapes",
        "    Tensor h = fc.apply(x);",
        "    if (isTraining()) {",
        "      h = wide.apply(h);",
        "    }",
        "    return h.mul(2);");
    oneErrorOnLine(f, "h is [N, 8] in training but [N, 6] in evaluation after this condition on the training mode",
        "if (isTraining()) {");
  }

  /** A ?: whose operands differ in shape, and a return in one mode only of another shape: errors on their lines. */
  @Test
  void choicesAndResultsThatDifferBetweenModesAreErrors() {
    JavaFileObject f = model("ModeChoice",
        "    Tensor h = isTraining() ? wide.apply(x) : fc.apply(x);",
        "    return h.mul(2);");
    oneErrorOnLine(f, "isTraining() ? wide.apply(x) : fc.apply(x) is [N, 8] in training but [N, 6] in evaluation",
        "Tensor h = isTraining()");

    JavaFileObject g = model("ModeResult",
        "    Tensor h = fc.apply(x);",
        "    if (isTraining()) return wide.apply(h);",
        "    return h;");
    oneErrorOnLine(g, "forward returns [N, 8] in training but [N, 6] in evaluation, as this condition on the training mode"
        + " decides", "if (isTraining()) return");
  }

  /** A condition mixing the mode with a value known only at run time, in forward and in a method of several outputs: errors. */
  @Test
  void conditionsThatDoNotCompileAreErrorsOnTheirLines() {
    JavaFileObject f = model("ModeMixed",
        "    Tensor h = fc.apply(x);",
        "    if (isTraining() && x.size(0) > 1) {",
        "      h = h.mul(2);",
        "    }",
        "    return h;");
    oneErrorOnLine(f, "unsupported condition on the training mode in forward: isTraining() && x.size(0) > 1 reads x.size(0),"
        + " the batch size, which varies from call to call", "if (isTraining() && x.size(0) > 1)");

    JavaFileObject g = outputsModel("ModeOutputs",
        "    Tensor b = isTraining() && x.size(0) > 2 ? h.mul(2) : h;",
        "    return new Out(h, b);");
    oneErrorOnLine(g, "unsupported condition on the training mode in both: isTraining() && x.size(0) > 2 reads x.size(0)",
        "Tensor b = isTraining()");
  }

  /** The model compiled and run on CUDA (the fake GPU here) in each mode, one after another: eager's CPU values. */
  @Test
  @Tag("cuda")
  void eachModeOnCudaMatchesEagerOnTheCpu() {
    Module[] m = models();
    eachModeOnCudaMatchesEager(m[0], m[1]);
    assertEquals(Device.cuda(), m[1].namedParameters().get("fc1.weight").device());
  }

  /** {@code compiled} moved to CUDA and run in each mode, one after another, input [5, 6]: {@code eager}'s CPU values. */
  static void eachModeOnCudaMatchesEager(Module eager, Module compiled) {
    Module[] m = {eager, compiled};
    m[1].to(Device.cuda());
    Kiln.manualSeed(5);
    for (boolean training : new boolean[] {true, false, true}) {
      float[] values = Tensor.randn(5, 6).toFloatArray();
      Tensor xe = Tensor.of(values, 5, 6).requiresGrad(true);
      Tensor xc = Tensor.of(values, 5, 6).to(Device.cuda()).requiresGrad(true);
      Consumer<Module> mode = model -> {
        model.train(training);
        model.zeroGrad(true);
      };
      mode.accept(m[0]);
      mode.accept(m[1]);
      Kiln.manualSeed(100); // the same dropout masks on both devices
      Tensor outE = m[0].forward(xe);
      Kiln.manualSeed(100);
      Tensor outC = m[1].forward(xc);
      assertTrue(outC.device().isCuda(), "output on " + outC.device());
      ParityTest.assertClose("output, training " + training, outC.toFloatArray(), outE.toFloatArray(), 1e-4);
      Tensor y = Tensor.labels(0, 2, 1, 1, 0);
      new CrossEntropyLoss().apply(outE, y).backward();
      new CrossEntropyLoss().apply(outC, y.to(Device.cuda())).backward();
      ParityTest.assertClose("input gradient, training " + training, xc.grad().toFloatArray(), xe.grad().toFloatArray(), 1e-4);
      ParityTest.assertParameterGradients("training " + training, m[0], m[1], 1e-4);
    }
  }
}
