package dev.kiln.processor;

import static com.google.testing.compile.CompilationSubject.assertThat;
import static dev.kiln.processor.ProcessorTest.classModel;
import static dev.kiln.processor.ProcessorTest.compile;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.testing.compile.Compilation;
import com.google.testing.compile.JavaFileObjects;
import dev.kiln.dsl.Module;
import dev.kiln.runtime.Kiln;
import dev.kiln.runtime.Tensor;
import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.function.Supplier;
import javax.tools.JavaFileObject;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Blocks (Module subclasses held as fields, their forward inlined) and ModuleList in compiled models: the golden
 * source, state dicts that load both ways between eager and compiled classes, a block in a file of its own, and each
 * error on its line (the block's own line for what its forward does wrong).
 */
class BlocksTest {
  @Test
  void theGeneratedSourceIsTheGoldenOne() throws IOException {
    Compilation c = compile(ProcessorTest.model("Blocks"));
    assertThat(c).succeededWithoutWarnings();
    ProcessorTest.assertGolden(c, "KilnBlocks", "KilnBlocks.java");
  }

  /** The compiled class has eager mode's keys; a state dict saved from either loads into the other, with the same outputs. */
  @Test
  void stateDictsLoadBothWaysBetweenEagerAndCompiled(@TempDir Path dir) throws IOException {
    Compilation c = compile(ProcessorTest.model("Blocks"));
    assertThat(c).succeededWithoutWarnings();
    ClassLoader loader = new ParityTest.CompiledClasses(c);
    Supplier<Module> eagerFactory = ParityTest.factory(loader, "test.Blocks");
    Supplier<Module> compiledFactory = ParityTest.factory(loader, "test.KilnBlocks");
    Kiln.manualSeed(1);
    Module eager = eagerFactory.get();
    Kiln.manualSeed(2);
    Module compiled = compiledFactory.get();
    assertEquals(List.copyOf(eager.stateDict().keySet()), List.copyOf(compiled.stateDict().keySet()));
    assertEquals(List.of("pos", "h.0.ln1.weight", "h.0.ln1.bias", "h.0.attn.mask", "h.0.attn.query.weight"),
        List.copyOf(compiled.stateDict().keySet()).subList(0, 5));
    Tensor x = Tensor.randn(3, 6, 8);
    eager.save(dir.resolve("eager.safetensors"));
    compiled.load(dir.resolve("eager.safetensors"));
    assertArrayEquals(eager.forward(x).toFloatArray(), compiled.forward(x).toFloatArray(), 1e-6f);
    Kiln.manualSeed(3);
    Module trained = compiledFactory.get();
    trained.save(dir.resolve("compiled.safetensors"));
    eager.load(dir.resolve("compiled.safetensors"));
    Map<String, Tensor> expected = trained.stateDict();
    eager.stateDict().forEach((k, v) -> assertArrayEquals(expected.get(k).toFloatArray(), v.toFloatArray(), k));
    assertArrayEquals(trained.forward(x).toFloatArray(), eager.forward(x).toFloatArray(), 1e-6f);
    // summary() runs the blocks' eager forwards: every leaf layer of both blocks is a row
    String table = trained.summary();
    assertEquals(eager.summary(), table);
    assertTrue(table.contains("LayerNorm-17") && table.contains("Linear-18"), table);
  }

  /**
   * Outputs, loss and every gradient are eager mode's bit for bit over SGD steps (the compiled code runs the inlined
   * blocks' and methods' steps in eager mode's order). A layer applied several times in one forward (BlockLoops' shared
   * block, SiameseLayer's {@code fc}) adds each use's bias gradient, summed from zero, into the gradient in backward order,
   * as eager mode's engine adds each use's fresh gradient ({@code CpuKernels.biasGradient}).
   */
  @org.junit.jupiter.params.ParameterizedTest
  @org.junit.jupiter.params.provider.CsvSource({"Blocks, 6:8", "OwnMethods, 6:8", "SequentialLoops, 6", "DerivedBlocks, 6", "InheritedFields, 6:8", "EarlyExits, 6", "WhileLoops, 6",
      "BlockLoops, 4", "SiameseLayer, 6", "SiameseRows, 120:64"})
  void blocksMatchEagerBitForBit(String model, String sampleShape) {
    ParityTest.matchesEagerBitForBit(model, sampleShape);
  }

  /** Blocks extending blocks have eager mode's keys: the superclasses' layers first, as Module registers them. */
  @Test
  void derivedBlocksHaveEagerKeys() {
    Compilation c = compile(ProcessorTest.model("DerivedBlocks"));
    assertThat(c).succeededWithoutWarnings();
    ClassLoader loader = new ParityTest.CompiledClasses(c);
    Module eager = ParityTest.factory(loader, "test.DerivedBlocks").get();
    Module compiled = ParityTest.factory(loader, "test.KilnDerivedBlocks").get();
    assertEquals(List.copyOf(eager.stateDict().keySet()), List.copyOf(compiled.stateDict().keySet()));
    assertEquals(List.of("a.fc1.weight", "a.fc1.bias", "b.fc1.weight", "b.fc1.bias", "b.fc2.weight", "b.fc2.bias", "b.ln.weight",
        "b.ln.bias", "c.fc1.weight"), List.copyOf(compiled.stateDict().keySet()).subList(2, 11));
  }

  /**
   * Blocks reading the tensor fields of the block they extend have eager mode's keys: for each block, its registered
   * parameters in the order the constructors ran them (the base's first), its field parameters, its buffers.
   */
  @Test
  void inheritedTensorFieldsHaveEagerKeys() {
    Compilation c = compile(ProcessorTest.model("InheritedFields"));
    assertThat(c).succeededWithoutWarnings();
    ClassLoader loader = new ParityTest.CompiledClasses(c);
    Module eager = ParityTest.factory(loader, "test.InheritedFields").get();
    Module compiled = ParityTest.factory(loader, "test.KilnInheritedFields").get();
    assertEquals(List.copyOf(eager.stateDict().keySet()), List.copyOf(compiled.stateDict().keySet()));
    assertEquals(List.of("a.gain", "a.pos", "a.mask", "a.fc.weight", "a.fc.bias", "b.gain", "b.scale", "b.pos", "b.mask"),
        List.copyOf(compiled.stateDict().keySet()).subList(2, 11));
  }

  /** A block extending another whose source is in another file reads each class through its own file. */
  @Test
  void aBlockExtendingABlockOfAnotherFileCompiles() {
    JavaFileObject block = JavaFileObjects.forSourceLines("test.Mixer",
        "package test;",
        "import dev.kiln.dsl.Linear;",
        "import dev.kiln.dsl.Module;",
        "import dev.kiln.runtime.Tensor;",
        "public class Mixer extends Module {",
        "  final Linear fc;",
        "  Mixer(int w) { fc = new Linear(w, w); }",
        "  @Override public Tensor forward(Tensor x) { return x.add(fc.apply(x)); }",
        "}");
    JavaFileObject f = classModel("UsesWide",
        "@Model(input = {4})",
        "public class UsesWide extends Module {",
        "  static final int W = 4;",
        "  static class Wide extends Mixer {",
        "    final Linear more = new Linear(W, 2);",
        "    Wide() { super(W); }",
        "    @Override public Tensor forward(Tensor x) { return more.apply(fc.apply(x)); }",
        "  }",
        "  final Wide a = new Wide();",
        "  @Override public Tensor forward(Tensor x) { return a.apply(x); }",
        "}");
    assertThat(compile(f, block)).succeededWithoutWarnings();
  }

  /** A block extending a layer, or given a super(...) argument that is not a constant, is refused on its line. */
  @Test
  void blocksExtendingWhatCannotBeReadAreRefused() {
    JavaFileObject f = classModel("BadSupers",
        "@Model(input = {4})",
        "public class BadSupers extends Module {",
        "  static class MyLinear extends Linear {",
        "    MyLinear() { super(4, 4); }",
        "  }",
        "  static class Base extends Module {",
        "    final Linear fc;",
        "    Base(int w) { fc = new Linear(w, w); }",
        "    @Override public Tensor forward(Tensor x) { return fc.apply(x); }",
        "  }",
        "  static class Sub extends Base {",
        "    static int width = 4;",
        "    Sub() { super(width); }",
        "  }",
        "  final MyLinear a = new MyLinear();",
        "  final Sub b = new Sub();",
        "  @Override public Tensor forward(Tensor x) { return b.apply(a.apply(x)); }",
        "}");
    Compilation c = compile(f);
    assertThat(c).hadErrorContaining("a: the block MyLinear extends dev.kiln.dsl.Linear; the compiler reads a block that extends"
        + " Module, or another block whose source is in this compilation").inFile(f).onLineContaining("new MyLinear()");
    assertThat(c).hadErrorContaining("b: argument 'width' of Sub is not a compile-time constant").inFile(f)
        .onLineContaining("super(width)");
    JavaFileObject g = classModel("HiddenGain",
        "@Model(input = {4})",
        "public class HiddenGain extends Module {",
        "  static abstract class WithGain extends Module {",
        "    final Tensor gain = registerParameter(\"gain\", Tensor.ones(4).requiresGrad(true));",
        "    Tensor scaled(Tensor x) { return x.mul(gain); }",
        "  }",
        "  static class Gains extends WithGain {",
        "    final Tensor gain = registerParameter(\"gain2\", Tensor.ones(4).requiresGrad(true));",
        "    @Override public Tensor forward(Tensor x) { return scaled(x).add(gain); }",
        "  }",
        "  final Gains g = new Gains();",
        "  @Override public Tensor forward(Tensor x) { return g.apply(x); }",
        "}");
    Compilation hidden = compile(g);
    assertThat(hidden).hadErrorContaining("'gain' of Gains has the name of the tensor field 'gain' of WithGain, which forward"
        + " reads too").inFile(g).onLineContaining("registerParameter(\"gain2\"");
    assertEquals(1, hidden.errors().size(), hidden.errors().toString());
    JavaFileObject base = JavaFileObjects.forSourceLines("test.WithGain",
        "package test;",
        "import dev.kiln.dsl.Module;",
        "import dev.kiln.runtime.Tensor;",
        "public abstract class WithGain extends Module {",
        "  final Tensor gain = registerParameter(\"gain\", Tensor.ones(4).requiresGrad(true));",
        "}");
    JavaFileObject m = classModel("InheritedByModel",
        "@Model(input = {4})",
        "public class InheritedByModel extends WithGain {",
        "  @Override public Tensor forward(Tensor x) { return x.mul(gain); }",
        "}");
    assertThat(compile(m, base)).hadErrorContaining("'gain' is a tensor field inherited from WithGain: the compiler reads the tensor"
        + " fields the @Model class InheritedByModel declares itself").inFile(m).onLineContaining("return x.mul(gain);");
  }

  /** A block class in a source file of its own, compiled with the model, is read through its own file. */
  @Test
  void aBlockInAnotherSourceFileCompiles() {
    JavaFileObject block = JavaFileObjects.forSourceLines("test.Mixer",
        "package test;",
        "import dev.kiln.dsl.Linear;",
        "import dev.kiln.dsl.Module;",
        "import dev.kiln.runtime.Tensor;",
        "public class Mixer extends Module {",
        "  static final int W = 4;",
        "  final Linear fc = new Linear(W, W);",
        "  @Override public Tensor forward(Tensor x) { return x.add(fc.apply(x)); }",
        "}");
    JavaFileObject f = classModel("UsesMixer",
        "@Model(input = {4})",
        "public class UsesMixer extends Module {",
        "  final Mixer a = new Mixer();",
        "  final Linear out = new Linear(4, 2);",
        "  @Override public Tensor forward(Tensor x) { return out.apply(a.apply(x)); }",
        "}");
    assertThat(compile(f, block)).succeededWithoutWarnings();
  }

  @Test
  void aBlockWithoutSourceIsRefusedOnItsDeclaration() {
    JavaFileObject f = classModel("FromJar",
        "@Model(input = {4})",
        "public class FromJar extends Module {",
        "  final dev.kiln.processor.ExternalBlock b = new dev.kiln.processor.ExternalBlock();",
        "  @Override public Tensor forward(Tensor x) { return b.apply(x); }",
        "}");
    Compilation c = compile(f);
    assertThat(c).hadErrorContaining("b: the block dev.kiln.processor.ExternalBlock is a Module whose source is not in this"
        + " compilation").inFile(f).onLineContaining("new dev.kiln.processor.ExternalBlock()");
    assertEquals(1, c.errors().size(), c.errors().toString());
  }

  @Test
  void aBlockThatHoldsItselfIsRefused() {
    JavaFileObject f = classModel("Recursive",
        "@Model(input = {4})",
        "public class Recursive extends Module {",
        "  static class Outer extends Module {",
        "    final Inner inner = new Inner();",
        "    @Override public Tensor forward(Tensor x) { return inner.apply(x); }",
        "  }",
        "  static class Inner extends Module {",
        "    final Outer again = new Outer();",
        "    @Override public Tensor forward(Tensor x) { return again.apply(x); }",
        "  }",
        "  final Outer b = new Outer();",
        "  @Override public Tensor forward(Tensor x) { return b.apply(x); }",
        "}");
    Compilation c = compile(f);
    assertThat(c).hadErrorContaining("b.inner.again: the block Outer holds a Outer itself (through Outer > Inner > Outer)")
        .inFile(f).onLineContaining("final Outer again = new Outer();");
  }

  /** What the reader refuses inside a block's forward is reported on the block's line, as is a shape the block gets wrong. */
  @Test
  void errorsInsideABlockPointAtTheBlocksLine() {
    JavaFileObject f = classModel("BadInside",
        "@Model(input = {4})",
        "public class BadInside extends Module {",
        "  static class Bad extends Module {",
        "    final Linear fc = new Linear(4, 4);",
        "    final Linear wide = new Linear(5, 4);",
        "    @Override public Tensor forward(Tensor x) {",
        "      if (x != null) { x = fc.apply(x); }",
        "      return wide.apply(x);",
        "    }",
        "  }",
        "  final Bad b = new Bad();",
        "  @Override public Tensor forward(Tensor x) { return b.apply(x); }",
        "}");
    Compilation c = compile(f);
    assertThat(c).hadErrorContaining("unsupported statement in Bad.forward: if").inFile(f).onLineContaining("if (x != null)");
    JavaFileObject g = classModel("BadShape",
        "@Model(input = {4})",
        "public class BadShape extends Module {",
        "  static class Bad extends Module {",
        "    final Linear wide = new Linear(5, 4);",
        "    @Override public Tensor forward(Tensor x) {",
        "      return wide.apply(x);",
        "    }",
        "  }",
        "  final Bad b = new Bad();",
        "  @Override public Tensor forward(Tensor x) { return b.apply(x); }",
        "}");
    assertThat(compile(g)).hadErrorContaining("b.wide: Linear(in_features=5, out_features=4, bias=True) expects [N, 5], receives [N, 4]")
        .inFile(g).onLineContaining("return wide.apply(x);");
  }

  @Test
  void loopsWhoseBoundsAreNotConstantAreRefused() {
    JavaFileObject f = classModel("BadLoops",
        "@Model(input = {4})",
        "public class BadLoops extends Module {",
        "  static class B extends Module {",
        "    final Linear fc = new Linear(4, 4);",
        "    @Override public Tensor forward(Tensor x) { return fc.apply(x); }",
        "  }",
        "  final ModuleList<B> h = ModuleList.of(new B(), new B());",
        "  final Linear fc = new Linear(4, 4);",
        "  @Override public Tensor forward(Tensor x) {",
        "    for (int i = 0; i < x.size(0); i++) { x = h.get(i).apply(x); }",
        "    for (int i = 2; i > 0; i--) { x = fc.apply(x); }",
        "    for (Tensor t : new Tensor[] {x}) { x = fc.apply(t); }",
        "    for (int i = 0; i < 2; i++) { if (x.size(0) > i) { x = fc.apply(x); } }",
        "    while (x.size(0) > 4) { x = fc.apply(x); }",
        "    return x;",
        "  }",
        "}");
    Compilation c = compile(f);
    assertThat(c).hadErrorContaining("unsupported loop in forward: its bound x.size(0) is the batch size, which varies from call to"
        + " call (a size after the batch, x.size(1), is a constant); the compiler unrolls").inFile(f).onLineContaining("i < x.size(0)");
    assertThat(c).hadErrorContaining("unsupported loop in forward: its condition is not i < (or <=) a bound")
        .inFile(f).onLineContaining("i > 0");
    assertThat(c).hadErrorContaining("unsupported loop in forward: new Tensor[]{x} is not a ModuleList or Sequential field of BadLoops")
        .inFile(f).onLineContaining("for (Tensor t");
    assertThat(c).hadErrorContaining("unsupported statement in forward: if").inFile(f).onLineContaining("if (x.size(0) > i)");
    assertThat(c).hadErrorContaining("unsupported loop in forward: its condition x.size(0) > 4 is not a constant at turn 1 (x.size(0)"
        + " is not: the batch size, which varies from call to call)").inFile(f).onLineContaining("while (x.size(0) > 4)");
  }

  /**
   * A while loop is unrolled while its condition is a constant at each turn; one that is not at some turn (a counter given a
   * value that is not a constant, which is refused on its line) is refused on the loop's line, as is one that never ends.
   */
  @Test
  void whileLoopsWhoseConditionIsNotConstantAreRefused() {
    JavaFileObject f = classModel("BadWhiles",
        "@Model(input = {4})",
        "public class BadWhiles extends Module {",
        "  final Linear fc = new Linear(4, 4);",
        "  @Override public Tensor forward(Tensor x) {",
        "    int i = 0;",
        "    while (i < 3) {",
        "      x = fc.apply(x);",
        "      i = x.size(0);",
        "    }",
        "    int j = 0;",
        "    do { x = fc.apply(x); } while (j < 2);",
        "    return x;",
        "  }",
        "}");
    Compilation c = compile(f);
    assertThat(c).hadErrorContaining("forward: i = x.size(0) does not fold to a constant; an int local that is not final counts an"
        + " unrolled loop's turns").inFile(f).onLineContaining("i = x.size(0);");
    assertThat(c).hadErrorContaining("unsupported loop in forward: its condition i < 3 is not a constant at turn 2 (i is not:")
        .inFile(f).onLineContaining("while (i < 3)");
    assertThat(c).hadErrorContaining("unsupported loop in forward: it would run more than 1024 times (does its body change j < 2?)")
        .inFile(f).onLineContaining("while (j < 2)");
    assertEquals(3, c.errors().size(), c.errors().toString());
  }

  @Test
  void listMisusesAreRefusedOnTheirLines() {
    JavaFileObject f = classModel("BadLists",
        "@Model(input = {4})",
        "public class BadLists extends Module {",
        "  static class B extends Module {",
        "    final Linear fc = new Linear(4, 4);",
        "    @Override public Tensor forward(Tensor x) { return fc.apply(x); }",
        "  }",
        "  final B a = new B();",
        "  final ModuleList<B> shared = ModuleList.of(a, new B());",
        "  final ModuleList<B> h = ModuleList.of(new B(), new B());",
        "  final ModuleList<B> built = new ModuleList<>(java.util.Collections.nCopies(2, new B()));",
        "  @Override public Tensor forward(Tensor x) {",
        "    x = h.apply(x);",
        "    x = h.get(2).apply(x);",
        "    return a.apply(x);",
        "  }",
        "}");
    Compilation c = compile(f);
    assertThat(c).hadErrorContaining("shared: element 0 of the ModuleList is identifier 'a'; the compiler reads each element"
        + " from a new block or layer").inFile(f).onLineContaining("ModuleList.of(a, new B())");
    assertThat(c).hadErrorContaining("built: the compiler reads a ModuleList written as ModuleList.of(new Block(), ...)")
        .inFile(f).onLineContaining("nCopies");
    assertThat(c).hadErrorContaining("'h' is a ModuleList, which is not applied as a whole (PyTorch's nn.ModuleList is not"
        + " callable)").inFile(f).onLineContaining("x = h.apply(x);");
    assertThat(c).hadErrorContaining("h.get(2): index 2 is out of range for the ModuleList h of 2 modules (0..1, or -2..-1 from"
        + " the end)").inFile(f).onLineContaining("h.get(2)");
  }

  @Test
  void ownMethodsThatRecurseOrTakeOtherArgumentsAreRefused() {
    JavaFileObject f = classModel("BadMethods",
        "@Model(input = {4})",
        "public class BadMethods extends Module {",
        "  final Linear fc = new Linear(4, 4);",
        "  Tensor again(Tensor x) { return fc.apply(again(x)); }",
        "  Tensor scaled(Tensor x, float[] by) { return fc.apply(x); }",
        "  Tensor sized(Tensor x, int n) { return fc.apply(x); }",
        "  float[] factors = {1f};",
        "  int width = 4;",
        "  @Override public Tensor forward(Tensor x) {",
        "    Tensor a = again(x);",
        "    Tensor b = scaled(x, factors);",
        "    Tensor c = sized(x, width);",
        "    return a.add(b).add(c);",
        "  }",
        "}");
    Compilation c = compile(f);
    assertThat(c).hadErrorContaining("again(x): again calls itself (directly or through another method)")
        .inFile(f).onLineContaining("Tensor again(Tensor x)");
    assertThat(c).hadErrorContaining("scaled(x, factors): parameter by of scaled is a float[]; a method the compiler inlines"
        + " takes tensors and compile-time constants").inFile(f).onLineContaining("Tensor b = scaled(x, factors);");
    assertThat(c).hadErrorContaining("sized(x, width): argument 'width' of sized is not a compile-time constant")
        .inFile(f).onLineContaining("Tensor c = sized(x, width);");
  }

  @Test
  void aBlocksConstructorArgumentMustBeConstant() {
    JavaFileObject f = classModel("Sized",
        "@Model(input = {4})",
        "public class Sized extends Module {",
        "  static class B extends Module {",
        "    final Linear fc;",
        "    B(int width) { fc = new Linear(width, width); }",
        "    @Override public Tensor forward(Tensor x) { return fc.apply(x); }",
        "  }",
        "  int width = 4;",
        "  final B b = new B(width);",
        "  @Override public Tensor forward(Tensor x) { return b.apply(x); }",
        "}");
    assertThat(compile(f)).hadErrorContaining("b: argument 'width' of B is not a compile-time constant")
        .inFile(f).onLineContaining("new B(width)");
  }
}
