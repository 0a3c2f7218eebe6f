package dev.kiln.processor;

import static com.google.testing.compile.CompilationSubject.assertThat;
import static dev.kiln.processor.ParityTest.assertClose;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;

import com.google.testing.compile.Compilation;
import dev.kiln.dsl.CrossEntropyLoss;
import dev.kiln.dsl.Embedding;
import dev.kiln.dsl.Linear;
import dev.kiln.dsl.Module;
import dev.kiln.runtime.Kiln;
import dev.kiln.runtime.Tensor;
import dev.kiln.runtime.optim.AdamW;
import java.io.IOException;
import java.util.List;
import java.util.Map;
import javax.tools.JavaFileObject;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * Weight tying compiled: a model whose constructor ties its token table to its head ({@code wte.weight(lmHead.weight())},
 * nanoGPT's {@code self.transformer.wte.weight = self.lm_head.weight}) compiles into code that adds both uses'
 * gradients into the one tensor, as eager mode does.
 */
class WeightTyingTest {
  private static final int V = 11;

  /** TiedGpt with the tie where the head is declared, nanoGPT's assignment the other way round. */
  private static JavaFileObject tiedWhereDeclared() {
    return ProcessorTest.classModel("TiedHead",
        "@Model(input = {6})",
        "public class TiedHead extends Module {",
        "  static final int V = 11, S = 6, D = 8;",
        "  final Embedding wte = new Embedding(V, D);",
        "  final Tensor wpe = registerParameter(\"wpe\", Tensor.zeros(1, S, D).requiresGrad(true));",
        "  final LayerNorm lnF = new LayerNorm(D);",
        "  final Linear lmHead = new Linear(D, V, false).weight(wte.weight());",
        "  @Override public Tensor forward(Tensor ids) {",
        "    return lmHead.apply(lnF.apply(wte.apply(ids).add(wpe)));",
        "  }",
        "}");
  }

  private static JavaFileObject tiedModel(String name, String... constructor) {
    String[] lines = {
        "@Model(input = {6})",
        "public class " + name + " extends Module {",
        "  static final int V = 11, S = 6, D = 8;",
        "  final Embedding wte = new Embedding(V, D);",
        "  final Tensor table = registerParameter(\"table\", Tensor.zeros(D, V).requiresGrad(true));",
        "  final Linear lmHead = new Linear(D, V, false);",
        "  final Linear wide = new Linear(D, V + 1, false);",
        "  public " + name + "() {"};
    String[] end = {
        "  }",
        "  @Override public Tensor forward(Tensor ids) {",
        "    return wide.apply(lmHead.apply(wte.apply(ids)).narrow(2, 0, D));",
        "  }",
        "}"};
    String[] all = new String[lines.length + constructor.length + end.length];
    System.arraycopy(lines, 0, all, 0, lines.length);
    System.arraycopy(constructor, 0, all, lines.length, constructor.length);
    System.arraycopy(end, 0, all, lines.length + constructor.length, end.length);
    return ProcessorTest.classModel(name, all);
  }

  /** TiedGpt compiles without warnings into its golden source (the tie a comment in the constructor, nothing else). */
  @Test
  void generatesTheGoldenSource() throws IOException {
    Compilation c = ProcessorTest.compile(ProcessorTest.model("TiedGpt"));
    assertThat(c).succeededWithoutWarnings();
    ProcessorTest.assertGolden(c, "KilnTiedGpt", "KilnTiedGpt.java");
  }

  @ParameterizedTest
  @CsvSource({"TiedGpt, test.TiedGpt, test.KilnTiedGpt", "TiedHead, test.TiedHead, test.KilnTiedHead"})
  void aTiedModelMatchesEagerInGradientsAndTraining(String source, String eagerName, String compiledName) {
    Compilation c = ProcessorTest.compile(source.equals("TiedHead") ? tiedWhereDeclared() : ProcessorTest.model(source));
    assertThat(c).succeededWithoutWarnings();
    ClassLoader loader = new ParityTest.CompiledClasses(c);
    Kiln.manualSeed(11);
    Module eager = ParityTest.factory(loader, eagerName).get();
    Kiln.manualSeed(11);
    Module compiled = ParityTest.factory(loader, compiledName).get();
    for (Module m : List.of(eager, compiled)) {
      assertEquals(List.of("wpe", "wte.weight", "lnF.weight", "lnF.bias"), List.copyOf(m.namedParameters().keySet()));
      assertEquals(List.of("wpe", "wte.weight", "lnF.weight", "lnF.bias", "lmHead.weight"), List.copyOf(m.stateDict().keySet()));
    }
    Map<String, Tensor> ep = eager.namedParameters();
    Map<String, Tensor> cp = compiled.namedParameters();
    sameGradients(eager, compiled, V);

    AdamW optE = new AdamW(eager.parameters(), 0.01);
    AdamW optC = new AdamW(compiled.parameters(), 0.01);
    for (int step = 0; step < 10; step++) {
      Tensor batch = ParityTest.ids(7, 6, V);
      Tensor y = ParityTest.ids(7, 6, V).reshape(-1);
      for (var pair : List.of(List.of(eager, optE), List.of(compiled, optC))) {
        Module m = (Module) pair.get(0);
        AdamW opt = (AdamW) pair.get(1);
        opt.zeroGrad();
        new CrossEntropyLoss().apply(m.forward(batch).view(-1, V), y).backward();
        opt.step();
      }
    }
    ep.forEach((k, v) -> assertClose(k + " after 10 steps", cp.get(k).toFloatArray(), v.toFloatArray(), 1e-4));
    Map<String, Tensor> state = compiled.stateDict();
    assertArrayEquals(state.get("wte.weight").toFloatArray(), state.get("lmHead.weight").toFloatArray());
    assertSame(cp.get("wte.weight"), compiled.getSubmodule("lmHead").namedParameters().get("weight"));
  }

  /** {@code constructor}'s lines in {@link #tiedModel} give {@code message} on the line containing {@code line}. */
  private static void errorOnItsLine(String name, String message, String line, String... constructor) {
    JavaFileObject f = tiedModel(name, constructor);
    assertThat(ProcessorTest.compile(f)).hadErrorContaining(message).inFile(f).onLineContaining(line);
  }

  @Test
  void tiedWeightsOfTwoShapesAreAnErrorOnTheTiesLine() {
    errorOnItsLine("WrongShape", "wte: the weight of Embedding(11, 8) is [11, 8] and cannot be tied to wide's,"
        + " Linear(in_features=8, out_features=12, bias=False) [12, 8]; a tied weight has the shape of the one it replaces"
        + " (an Embedding(V, D)'s [V, D] ties a Linear(D, V, false)'s [V, D])",
        "wte.weight(wide.weight());", "    wte.weight(wide.weight());");
  }

  @Test
  void aTieOfATensorThatIsNoLayersWeightIsAnErrorOnItsLine() {
    errorOnItsLine("FieldTie", "lmHead: the compiler reads a weight tie of another layer field's weight, a Linear's or an"
        + " Embedding's in the same class (lmHead.weight(wte.weight()), or new Linear(D, V, false).weight(wte.weight()) where"
        + " the layer is declared), not lmHead.weight(table.t())",
        "lmHead.weight(table.t());", "    lmHead.weight(table.t());");
  }

  @Test
  void aTieInsideABranchIsAnErrorOnItsLine() {
    errorOnItsLine("BranchTie", "wte: the weight tie wte.weight(lmHead.weight()) is inside a block, branch or loop of the"
        + " constructor; write it as a statement of its own at the top level",
        "      wte.weight(lmHead.weight());", "    if (V > 10) {", "      wte.weight(lmHead.weight());", "    }");
  }

  /** A tie inside a block, in each of the two blocks of a ModuleList: each block's own pair, eager's gradients. */
  @Test
  void aTieInABlockTiesThatBlocksLayers() {
    JavaFileObject f = ProcessorTest.classModel("TiedBlocks",
        "@Model(input = {6})",
        "public class TiedBlocks extends Module {",
        "  static final int V = 11;",
        "  static class Coder extends Module {",
        "    final Linear first = new Linear(V, V);",
        "    final Linear second = new Linear(V, V, false);",
        "    Coder() {",
        "      second.weight(first.weight());",
        "    }",
        "    @Override public Tensor forward(Tensor x) { return second.apply(relu(first.apply(x))); }",
        "  }",
        "  final Embedding wte = new Embedding(V, V);",
        "  final ModuleList<Coder> h = ModuleList.of(new Coder(), new Coder());",
        "  @Override public Tensor forward(Tensor ids) {",
        "    Tensor x = wte.apply(ids);",
        "    for (Coder c : h) {",
        "      x = c.apply(x);",
        "    }",
        "    return x;",
        "  }",
        "}");
    Compilation c = ProcessorTest.compile(f);
    assertThat(c).succeededWithoutWarnings();
    assertThat(c).generatedSourceFile("test.KilnTiedBlocks").contentsAsUtf8String()
        .contains("// h.1.second's weight is h.1.first's (tied at TiedBlocks.java:13)");
    ClassLoader loader = new ParityTest.CompiledClasses(c);
    Kiln.manualSeed(5);
    Module eager = ParityTest.factory(loader, "test.TiedBlocks").get();
    Kiln.manualSeed(5);
    Module compiled = ParityTest.factory(loader, "test.KilnTiedBlocks").get();
    assertEquals(List.of("wte.weight", "h.0.first.weight", "h.0.first.bias", "h.1.first.weight", "h.1.first.bias"),
        List.copyOf(compiled.namedParameters().keySet()));
    sameGradients(eager, compiled, V);
  }

  /**
   * A tie made on a built compiled model (not read by the processor): its steps read the layers' weights when they run,
   * so it computes eager mode's gradients all the same.
   */
  @Test
  void aTieMadeAfterConstructionWorksCompiledToo() {
    Compilation c = ProcessorTest.compile(tiedModel("Late"));
    assertThat(c).succeededWithoutWarnings();
    ClassLoader loader = new ParityTest.CompiledClasses(c);
    Kiln.manualSeed(5);
    Module eager = ParityTest.factory(loader, "test.Late").get();
    Kiln.manualSeed(5);
    Module compiled = ParityTest.factory(loader, "test.KilnLate").get();
    for (Module m : List.of(eager, compiled)) {
      ((Embedding) m.getSubmodule("wte")).weight(((Linear) m.getSubmodule("lmHead")).weight());
      assertEquals(List.of("table", "wte.weight", "wide.weight"), List.copyOf(m.namedParameters().keySet()));
    }
    sameGradients(eager, compiled, V + 1);
  }

  /** The same logits [7, 6, classes] and, after a cross-entropy over every position, the same gradients. */
  private static void sameGradients(Module eager, Module compiled, int classes) {
    Kiln.manualSeed(3);
    Tensor ids = ParityTest.ids(7, 6, V);
    Tensor targets = ParityTest.ids(7, 6, V).reshape(-1);
    Tensor outE = eager.forward(ids);
    Tensor outC = compiled.forward(ids);
    assertArrayEquals(new int[] {7, 6, classes}, outC.shape());
    assertClose("logits", outC.toFloatArray(), outE.toFloatArray(), 1e-5);
    new CrossEntropyLoss().apply(outE.view(-1, classes), targets).backward();
    new CrossEntropyLoss().apply(outC.view(-1, classes), targets).backward();
    Map<String, Tensor> cp = compiled.namedParameters();
    eager.namedParameters().forEach((k, v) -> {
      if (v.grad() != null) {
        assertClose(k + " gradient", cp.get(k).grad().toFloatArray(), v.grad().toFloatArray(), 1e-5);
      }
    });
  }

  @Test
  void aTiedModelsGeneratedConstructorNamesTheTie() {
    Compilation c = ProcessorTest.compile(tiedModel("Named", "    wte.weight(lmHead.weight());"));
    assertThat(c).succeededWithoutWarnings();
    assertThat(c).generatedSourceFile("test.KilnNamed").contentsAsUtf8String()
        .contains("// wte's weight is lmHead's (tied at Named.java:14)");
  }
}
