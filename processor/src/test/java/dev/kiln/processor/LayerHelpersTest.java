package dev.kiln.processor;

import static com.google.testing.compile.CompilationSubject.assertThat;
import static org.junit.jupiter.api.Assertions.assertEquals;

import com.google.testing.compile.Compilation;
import dev.kiln.dsl.Module;
import java.util.List;
import javax.tools.JavaFileObject;
import org.junit.jupiter.api.Test;

/**
 * What the torchvision zoo pass added: layers built by helper methods of one return, a layer chosen by a constant ?:,
 * sizes folded through static helpers and Math.max/min/abs/round, static tensor helpers inlined from a block's forward
 * (values and gradients eager mode's bit for bit), and their errors on their lines.
 */
class LayerHelpersTest {
  @Test
  void helpersConditionsAndStaticMethodsMatchEagerBitForBit() {
    Module m = ParityTest.matchesEagerBitForBit("LayerHelpers", "4:6:6");
    assertEquals(List.of("stem.0.weight", "stem.1.weight", "stem.1.bias",
        "plain.conv.0.0.weight", "plain.conv.0.1.weight", "plain.conv.0.1.bias", "plain.conv.1.weight", "plain.conv.1.bias",
        "expanded.conv.0.0.weight", "expanded.conv.0.1.weight", "expanded.conv.0.1.bias",
        "expanded.conv.1.0.weight", "expanded.conv.1.1.weight", "expanded.conv.1.1.bias", "expanded.conv.2.weight",
        "expanded.conv.2.bias", "down.weight", "fc.weight", "fc.bias"), List.copyOf(m.namedParameters().keySet()));
    assertEquals(List.of(8, 1, 3, 3), List.of(box(m.namedParameters().get("expanded.conv.1.0.weight").shape())));
  }

  private static Integer[] box(int[] v) {
    return java.util.Arrays.stream(v).boxed().toArray(Integer[]::new);
  }

  @Test
  void aHelperFillingAListIsAnErrorOnTheCall() {
    JavaFileObject f = ProcessorTest.classModel("LoopHelper",
        "@Model(input = {4})",
        "public class LoopHelper extends Module {",
        "  static Sequential makeLayer(int blocks) {",
        "    java.util.List<Module> layers = new java.util.ArrayList<>();",
        "    for (int i = 0; i < blocks; i++) layers.add(new Linear(4, 4));",
        "    return Sequential.of(layers.toArray(new Module[0]));",
        "  }",
        "  final Sequential layer1 = makeLayer(2);",
        "  @Override public Tensor forward(Tensor x) { return layer1.apply(x); }",
        "}");
    Compilation c = ProcessorTest.compile(f);
    assertThat(c).hadErrorContaining("layer1: the compiler reads the layer makeLayer(...) returns only when its body is one return"
        + " of a layer expression").inFile(f).onLineContaining("= makeLayer(2)");
    assertThat(c).hadErrorContaining("(torchvision's _make_layer) does not compile yet");
  }

  @Test
  void aLayerConditionThatDoesNotFoldIsAnErrorOnIt() {
    JavaFileObject f = ProcessorTest.classModel("VaryingLayer",
        "@Model(input = {4})",
        "public class VaryingLayer extends Module {",
        "  static boolean wide = Boolean.getBoolean(\"wide\");",
        "  final Linear fc = wide ? new Linear(4, 8) : new Linear(4, 2);",
        "  @Override public Tensor forward(Tensor x) { return fc.apply(x); }",
        "}");
    Compilation c = ProcessorTest.compile(f);
    assertThat(c).hadErrorContaining("fc: the condition 'wide' of a layer's ?: is not a compile-time constant")
        .inFile(f).onLineContaining("wide ? new Linear");
  }

  @Test
  void aSizeHelperWithABranchIsAnErrorNamingIt() {
    JavaFileObject f = ProcessorTest.classModel("BranchedSize",
        "@Model(input = {4})",
        "public class BranchedSize extends Module {",
        "  static int width(int c) {",
        "    if (c > 2) return 8;",
        "    return 4;",
        "  }",
        "  final Linear fc = new Linear(4, width(3));",
        "  @Override public Tensor forward(Tensor x) { return fc.apply(x); }",
        "}");
    Compilation c = ProcessorTest.compile(f);
    assertThat(c).hadErrorContaining("fc: argument 'width(3)' of Linear is not a compile-time constant: width(...) is not locals"
        + " and a return (if on its line 9)").inFile(f)
        .onLineContaining("width(3)");
  }

  /**
   * A size helper's parameters, locals and return hold their declared types, as Java's: {@code double h = c / 2;} of 3
   * holds 1.0 (so {@code h / 2} is 0.5, not the int division's 0), and {@code quarter(6)} returns 6.0 (so {@code / 4} is
   * 1.5). Folded as ints, the first layer would be 0 wide and the second 8; the eager model's own sizes are 4 and 12.
   */
  @Test
  void aSizeHelpersVariablesHoldTheirDeclaredTypes() {
    JavaFileObject f = ProcessorTest.classModel("TypedSizes",
        "@Model(input = {4})",
        "public class TypedSizes extends Module {",
        "  static int width(int c) {",
        "    double h = c / 2;",
        "    return (int) (h / 2 * 8);",
        "  }",
        "  static double quarter(int c) {",
        "    return c;",
        "  }",
        "  final Linear fc1 = new Linear(4, width(3));",
        "  final Linear fc2 = new Linear(width(3), (int) (quarter(6) / 4 * 8));",
        "  @Override public Tensor forward(Tensor x) { return fc2.apply(fc1.apply(x)); }",
        "}");
    Compilation c = ProcessorTest.compile(f);
    assertThat(c).succeededWithoutWarnings();
    Module compiled = ParityTest.factory(new ParityTest.CompiledClasses(c), "test.KilnTypedSizes").get();
    assertEquals(List.of(4, 4), List.of(box(compiled.namedParameters().get("fc1.weight").shape())));
    assertEquals(List.of(12, 4), List.of(box(compiled.namedParameters().get("fc2.weight").shape())));
  }
}
