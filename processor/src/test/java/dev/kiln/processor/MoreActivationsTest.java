package dev.kiln.processor;

import static com.google.testing.compile.CompilationSubject.assertThat;

import com.google.testing.compile.Compilation;
import java.io.IOException;
import javax.tools.JavaFileObject;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * ReLU6, hardswish, hardsigmoid, Mish, SELU, CELU, softsign, log-sigmoid and tanhshrink (layers, in a Sequential, F
 * functions) and the views Identity and Unflatten in a compiled forward: the golden source, eager mode's values and
 * gradients bit for bit; GLU, Softmin, PixelShuffle and PixelUnshuffle as the steps they are made of (ShuffleGates), an
 * input they refuse named on its line; PReLU, without a compiled form, named on its declaration as eager mode's only.
 */
class MoreActivationsTest {
  @Test
  void generatesTheGoldenSourceWithoutWarnings() throws IOException {
    Compilation c = ProcessorTest.compile(ProcessorTest.model("MoreActivations"));
    assertThat(c).succeededWithoutWarnings();
    ProcessorTest.assertGolden(c, "KilnMoreActivations", "KilnMoreActivations.java");
  }

  @Test
  void matchesEagerBitForBit() {
    ParityTest.matchesEagerBitForBit("MoreActivations", "6");
  }

  @Test
  void shuffleAndGateLayersGenerateTheGoldenSource() throws IOException {
    Compilation c = ProcessorTest.compile(ProcessorTest.model("ShuffleGates"));
    assertThat(c).succeededWithoutWarnings();
    ProcessorTest.assertGolden(c, "KilnShuffleGates", "KilnShuffleGates.java");
  }

  @Test
  void shuffleAndGateLayersMatchEagerBitForBit() {
    ParityTest.matchesEagerBitForBit("ShuffleGates", "8:4:4");
  }

  @ParameterizedTest(name = "{0}")
  @CsvSource(delimiter = '|', value = {"PReLU | new PReLU(8)"})
  void layersWithoutACompiledFormAreNamedOnTheirLine(String type, String creation) {
    JavaFileObject f = ProcessorTest.classModel("Eager" + type,
        "@Model(input = {8})",
        "public class Eager" + type + " extends Module {",
        "  final Linear fc = new Linear(8, 8);",
        "  final " + type + " act = " + creation + ";",
        "  @Override public Tensor forward(Tensor x) {",
        "    return act.apply(fc.apply(x));",
        "  }",
        "}");
    Compilation c = ProcessorTest.compile(f);
    assertThat(c).hadErrorContaining("act: " + type + " has no compiled form yet (").inFile(f)
        .onLineContaining("final " + type + " act = " + creation + ";");
    assertThat(c).hadErrorContaining("): it runs in eager mode only (docs/guide.md, \"What does not compile yet\"); leave out @Model"
        + " and the model runs eagerly, as written");
    assertThat(c).hadErrorCount(1);
  }

  @ParameterizedTest(name = "{0}")
  @CsvSource(delimiter = '|', value = {
      "PixelShuffle | new PixelShuffle(2) | PixelShuffle(upscale_factor=2) cannot take [N, 8]: pixel_shuffle expects input to have at least 3 dimensions",
      "PixelUnshuffle | new PixelUnshuffle(2) | PixelUnshuffle(downscale_factor=2) cannot take [N, 8]",
      "GLU | new GLU(1) | GLU(dim=1) cannot take [N, 7]: halving dimension must be even, but dimension 1 is size 7",
      "Softmin | new Softmin(2) | Softmin(dim=2) cannot take [N, 7]"})
  void anInputTheExpandedLayersRefuseIsNamedOnItsLine(String type, String creation, String error) {
    JavaFileObject f = ProcessorTest.classModel("Refused" + type,
        "@Model(input = {8})",
        "public class Refused" + type + " extends Module {",
        "  final Linear fc = new Linear(8, 7 + " + (type.startsWith("Pixel") ? 1 : 0) + ");",
        "  final " + type + " act = " + creation + ";",
        "  @Override public Tensor forward(Tensor x) {",
        "    Tensor h = fc.apply(x);",
        "    return act.apply(h);",
        "  }",
        "}");
    Compilation c = ProcessorTest.compile(f);
    assertThat(c).hadErrorContaining(error).inFile(f).onLineContaining("return act.apply(h);");
    assertThat(c).hadErrorCount(1);
  }
}
