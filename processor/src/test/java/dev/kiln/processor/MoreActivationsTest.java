package dev.kiln.processor;

import static com.google.testing.compile.CompilationSubject.assertThat;

import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.testing.compile.Compilation;
import dev.kiln.dsl.Module;
import java.io.IOException;
import java.util.List;
import javax.tools.JavaFileObject;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * ReLU6, hardswish, hardsigmoid, Mish, SELU, CELU, softsign, log-sigmoid and tanhshrink (layers, in a Sequential, F
 * functions) and the views Identity and Unflatten in a compiled forward: the golden source, eager mode's values and
 * gradients bit for bit; GLU, Softmin, PixelShuffle and PixelUnshuffle as the steps they are made of (ShuffleGates), an
 * input they refuse named on its line; PReLU (layers, a Sequential's, F.prelu of a parameter) as eager's where(x > 0, x,
 * slope * x), its weight the layer's parameter (PReluNet).
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

  @Test
  void preluGeneratesTheGoldenSource() throws IOException {
    Compilation c = ProcessorTest.compile(ProcessorTest.model("PReluNet"));
    assertThat(c).succeededWithoutWarnings();
    ProcessorTest.assertGolden(c, "KilnPReluNet", "KilnPReluNet.java");
  }

  @Test
  void preluMatchesEagerBitForBitWithPyTorchsKeys() {
    Module compiled = ParityTest.matchesEagerBitForBit("PReluNet", "4:5:5");
    assertTrue(compiled.stateDict().keySet().containsAll(List.of("first.weight", "act.weight", "mlp.2.weight", "mlp.4.weight",
        "gate", "slope")), () -> compiled.stateDict().keySet().toString());
  }

  @Test
  void preluPerChannelOfOneDimensionalMapsMatchesEagerBitForBit() {
    Module compiled = ParityTest.matchesEagerBitForBit("PReluSequence", "4:7");
    assertTrue(compiled.stateDict().keySet().containsAll(List.of("first.weight", "slope")),
        () -> compiled.stateDict().keySet().toString());
  }

  /** F.prelu's weight must be a tensor field of one slope or one per channel, each refusal on its line. */
  @ParameterizedTest(name = "{0}")
  @CsvSource(delimiter = '|', value = {
      "prelu(h, w) | prelu(h, w): prelu: mismatch of parameter numbers and input channel size, found parameter numbers = 5 (w) and"
          + " channel size = 4 (input [N, 4, 6])",
      "prelu(h, h.sum(1)) | F.prelu takes its weight from a tensor field of the model"})
  void aPreluWeightThatDoesNotFitIsNamedOnItsLine(String call, String error) {
    JavaFileObject f = ProcessorTest.classModel("BadPrelu",
        "@Model(input = {4, 6})",
        "public class BadPrelu extends Module {",
        "  final Tensor w = registerParameter(\"w\", Tensor.full(0.25f, 5).requiresGrad(true));",
        "  @Override public Tensor forward(Tensor x) {",
        "    Tensor h = x.mul(2f);",
        "    return " + call + ";",
        "  }",
        "}");
    Compilation c = ProcessorTest.compile(f);
    assertThat(c).hadErrorContaining(error).inFile(f).onLineContaining("return " + call + ";");
    assertThat(c).hadErrorCount(1);
  }

  @ParameterizedTest(name = "{0}")
  @CsvSource(delimiter = '|', value = {
      "PixelShuffle | new PixelShuffle(2) | PixelShuffle(upscale_factor=2) cannot take [N, 8]: pixel_shuffle expects input to have at least 3 dimensions",
      "PixelUnshuffle | new PixelUnshuffle(2) | PixelUnshuffle(downscale_factor=2) cannot take [N, 8]",
      "GLU | new GLU(1) | GLU(dim=1) cannot take [N, 7]: halving dimension must be even, but dimension 1 is size 7",
      "Softmin | new Softmin(2) | Softmin(dim=2) cannot take [N, 7]",
      "PReLU | new PReLU(3) | PReLU(num_parameters=3) cannot take [N, 7]: mismatch of parameter numbers and input channel size,"
          + " found parameter numbers = 3 and channel size = 7"})
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
