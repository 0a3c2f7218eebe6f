package dev.kiln.processor;

import static com.google.testing.compile.CompilationSubject.assertThat;
import static dev.kiln.processor.ProcessorTest.classModel;
import static dev.kiln.processor.ProcessorTest.compile;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.testing.compile.Compilation;
import dev.kiln.dsl.Module;
import dev.kiln.runtime.Kiln;
import dev.kiln.runtime.Tensor;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import javax.tools.JavaFileObject;
import org.junit.jupiter.api.Test;

/**
 * Sizes read of expressions ({@code fc.apply(x).size(1)}, {@code x.flatten(1, 2).shape()[1]}, a cat's), of tensor fields
 * ({@code pos.size(0)}) and of layers' parameters ({@code fc.weight().size(1)}) fold to constants, as a size of a value held
 * in a local does; the expression's steps are read for its shape and dropped, so the graph is the one of the constants.
 */
class ExpressionSizesTest {
  /** Values and gradients of ExpressionSizes, eager mode's bit for bit in training and in evaluation. */
  @Test
  void expressionSizesMatchEagerBitForBit() {
    Module compiled = ParityTest.matchesEagerBitForBit("ExpressionSizes", "6:8");
    assertEquals(null, compiled.namedParameters().get("probe.weight").grad(), "probe is read for a size alone");
  }

  /**
   * A model reading sizes of expressions, fields and parameters generates the code of the same model with the constants
   * written (but for its name): no step, tensor field or layer is added for a size read alone.
   */
  @Test
  void sizesOfExpressionsGenerateTheCodeOfTheirConstants() throws IOException {
    String source = assertGeneratesTheConstant("Sizes", "{6}",
        List.of("  final Tensor pos = registerParameter(\"pos\", Tensor.randn(6).requiresGrad(true));",
            "  final Tensor table = registerBuffer(\"table\", Tensor.ones(2, 12));",
            "  final Linear fc = new Linear(6, 6);",
            "  final Linear probe = new Linear(6, 5);"),
        "fc.apply(x).size(-1) + fc.weight().size(0) - table.size(1) + probe.apply(x).size(1)"
            + " + x.view(x.size(0), -1).size(-1) - Tensor.cat(java.util.List.of(x, fc.apply(x)), 1).size(1) + pos.size(0)",
        5, // 6 + 6 - 12 + 5 + 6 - 12 + 6
        "relu(fc.apply(x)).narrow(1, 0, w).add(pos.narrow(0, 0, w))");
    assertTrue(!source.contains("table") && !source.contains("probe Linear"), "a field or layer read for its size alone");
  }

  /** Each layer's parameters' sizes, as its {@code weight()} and {@code bias()} return them, fold to their declared shapes. */
  @Test
  void parameterSizesOfEachLayerFoldToTheirShapes() throws IOException {
    assertGeneratesTheConstant("Parameters", "{3, 8, 8}",
        List.of("  final Conv2d conv = new Conv2d(3, 4, 3);",
            "  final BatchNorm2d bn = new BatchNorm2d(4);",
            "  final LayerNorm ln = new LayerNorm(6);",
            "  final Embedding emb = new Embedding(10, 5);",
            "  final EmbeddingBag bag = new EmbeddingBag(7, 3);",
            "  final ConvTranspose2d up = new ConvTranspose2d(4, 2, 2);"),
        "conv.weight().size(1) + bn.weight().size(0) + ln.weight().size(0) + emb.weight().size(0) + bag.weight().size(1)"
            + " + up.weight().size(1) + conv.bias().size(0) + up.weight().size(0) + conv.weight().size(-1) - 36",
        3, // 3 + 4 + 6 + 10 + 3 + 2 + 4 + 4 + 3 - 36
        "conv.apply(x).narrow(1, 0, w)");
  }

  /** The 1-d convolution's and the group norms' parameters fold as the others'. */
  @Test
  void parameterSizesOfOneDimensionalAndGroupLayersFold() throws IOException {
    assertGeneratesTheConstant("SequenceParameters", "{4, 16}",
        List.of("  final Conv1d conv = new Conv1d(4, 6, 5);",
            "  final Conv1d grouped = new Conv1d(4, 6, 3).groups(2);",
            "  final Conv2d depthwise = new Conv2d(8, 8, 3).groups(8);",
            "  final GroupNorm gn = new GroupNorm(2, 6);",
            "  final InstanceNorm2d in = new InstanceNorm2d(3, 1e-5, true);"),
        "conv.weight().size(2) + conv.weight().size(1) + conv.bias().size(0) + gn.weight().size(0) + gn.bias().size(0)"
            + " + in.weight().size(0) + grouped.weight().size(1) + depthwise.weight().size(1) - 29",
        4, // 5 + 4 + 6 + 6 + 6 + 3 + 2 + 1 - 29: a grouped weight is [out, in / groups, k]
        "conv.apply(x).narrow(1, 0, w)");
  }

  /**
   * Compiles a model of {@code input} with {@code fields} whose forward is {@code final int w = read; return returned;},
   * and the same with {@code w} written as {@code value}: both succeed and generate the same source, but for their names.
   * The source of the first.
   */
  private static String assertGeneratesTheConstant(String name, String input, List<String> fields, String read, int value,
      String returned) throws IOException {
    String[] sources = new String[2];
    for (int i = 0; i < 2; i++) {
      String model = (i == 0 ? "Read" : "Written") + name;
      List<String> lines = new ArrayList<>(List.of("@Model(input = " + input + ")", "public class " + model + " extends Module {"));
      lines.addAll(fields);
      lines.addAll(List.of("  @Override public Tensor forward(Tensor x) {",
          "    final int w = " + (i == 0 ? read : String.valueOf(value)) + ";",
          "    return " + returned + ";",
          "  }",
          "}"));
      Compilation c = compile(classModel(model, lines.toArray(new String[0])));
      assertThat(c).succeededWithoutWarnings();
      sources[i] = generated(c, "Kiln" + model).replace(model, "Model");
    }
    assertEquals(sources[1], sources[0]);
    return sources[0];
  }

  /**
   * What a size read of an expression cannot compile is an error on its line naming it: a size of a step eager mode runs
   * for its side effect (a dropout's draw, a batch norm's running statistics), a parameter the layer has not, the batch
   * size of an expression; an expression's own shape error is reported once, on its line.
   */
  @Test
  void sizesThatDoNotFoldAreErrorsOnTheirLines() {
    JavaFileObject f = classModel("BadExpressionSizes",
        "@Model(input = {6})",
        "public class BadExpressionSizes extends Module {",
        "  final Linear fc = new Linear(6, 6, false);",
        "  final Linear wrong = new Linear(5, 6);",
        "  final Dropout drop = new Dropout(0.5);",
        "  final BatchNorm1d bn = new BatchNorm1d(6);",
        "  @Override public Tensor forward(Tensor x) {",
        "    Tensor a = x.narrow(1, 0, drop.apply(fc.apply(x)).size(1));",
        "    Tensor b = x.narrow(1, 0, bn.apply(x).size(1));",
        "    Tensor c = x.narrow(1, 0, fc.bias().size(0));",
        "    Tensor d = x.narrow(1, 0, fc.apply(x).size(0));",
        "    Tensor e = x.narrow(1, 0, wrong.apply(x).size(1));",
        "    return fc.apply(a.add(b).add(c).add(d).add(e));",
        "  }",
        "}");
    Compilation c = compile(f);
    assertThat(c).hadErrorContaining("drop.apply(fc.apply(x)): its size is read without its value, but computing it runs"
        + " drop.apply(fc.apply(x)), which draws a dropout mask in training in eager mode").inFile(f).onLineContaining("Tensor a =");
    assertThat(c).hadErrorContaining("bn.apply(x): its size is read without its value, but computing it runs bn.apply(x), which"
        + " updates its running statistics in training in eager mode").inFile(f).onLineContaining("Tensor b =");
    assertThat(c).hadErrorContaining("fc.bias(): fc (Linear(in_features=6, out_features=6, bias=False)) has no such parameter")
        .inFile(f).onLineContaining("Tensor c =");
    assertThat(c).hadErrorContaining("x.narrow(1, 0, fc.apply(x).size(0)): fc.apply(x).size(0) is the batch size")
        .inFile(f).onLineContaining("Tensor d =");
    assertThat(c).hadErrorContaining("wrong: Linear(in_features=5, out_features=6, bias=True) expects [N, 5], receives [N, 6]")
        .inFile(f).onLineContaining("Tensor e =");
    assertThat(c).hadErrorCount(5);
  }

  /** A tensor field whose size alone is read, declared so the processor cannot read it, is an error on its declaration. */
  @Test
  void aFieldReadForItsSizeIsReadAsForItsValue() {
    JavaFileObject f = classModel("FieldSize",
        "@Model(input = {6})",
        "public class FieldSize extends Module {",
        "  final Tensor table = Tensor.ones(2, 6);",
        "  final Linear fc = new Linear(6, 6);",
        "  @Override public Tensor forward(Tensor x) {",
        "    return fc.apply(x).narrow(1, 0, table.size(1));",
        "  }",
        "}");
    Compilation c = compile(f);
    assertThat(c).hadErrorContaining("table").inFile(f).onLineContaining("final Tensor table");
    assertThat(c).hadErrorCount(1);
  }

  /**
   * A size of a value the mode picks ({@code (isTraining() ? wide.apply(x) : fc.apply(x)).size(1)}), the only read of the
   * mode: forward is compiled once per mode, each with its own size, eager mode's values in both.
   */
  @Test
  void aSizeThatDependsOnTheModeIsEachModes() {
    Compilation c = compile(classModel("ModeSize",
        "@Model(input = {6})",
        "public class ModeSize extends Module {",
        "  final Linear fc = new Linear(6, 6);",
        "  final Linear wide = new Linear(6, 8);",
        "  @Override public Tensor forward(Tensor x) {",
        "    return fc.apply(x).mul((isTraining() ? wide.apply(x) : fc.apply(x)).size(1));",
        "  }",
        "}"));
    assertThat(c).succeededWithoutWarnings();
    ClassLoader loader = new ParityTest.CompiledClasses(c);
    Kiln.manualSeed(11);
    Module eager = ParityTest.factory(loader, "test.ModeSize").get();
    Kiln.manualSeed(11);
    Module compiled = ParityTest.factory(loader, "test.KilnModeSize").get();
    Tensor x = Tensor.randn(3, 6);
    for (boolean training : new boolean[] {true, false, true}) {
      eager.train(training);
      compiled.train(training);
      assertArrayEquals(eager.forward(x).toFloatArray(), compiled.forward(x).toFloatArray(), "training " + training);
    }
  }

  static String generated(Compilation c, String name) throws IOException {
    return c.generatedSourceFile("test." + name).orElseThrow().getCharContent(false).toString();
  }
}
