package dev.kiln.processor;

import static com.google.testing.compile.CompilationSubject.assertThat;

import com.google.testing.compile.Compilation;
import java.io.IOException;
import javax.tools.JavaFileObject;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * ELU, softplus and hardtanh (layers, in a Sequential, F functions), constant padding ({@code F.pad}, negative
 * counts cropping) and {@code F.normalize} in a compiled forward: the golden source, eager mode's values and gradients
 * bit for bit, and the compile errors of a padding or a normalize that does not fit its value's shape, on their lines.
 */
class PiecewiseAndPadTest {
  @ParameterizedTest(name = "{0}")
  @CsvSource({"PiecewiseMlp", "PaddedUnet", "NormalizedHeads"})
  void generatesTheGoldenSourceWithoutWarnings(String model) throws IOException {
    Compilation c = ProcessorTest.compile(ProcessorTest.model(model));
    assertThat(c).succeededWithoutWarnings();
    ProcessorTest.assertGolden(c, "Kiln" + model, "Kiln" + model + ".java");
  }

  @ParameterizedTest(name = "{0}")
  @CsvSource({"PiecewiseMlp, 6", "PaddedUnet, 2:7:7", "NormalizedHeads, 4:6", "EmbeddingNet, 6", "InputPads, 3:5", "InputNormalized, 5"})
  void matchesEagerBitForBit(String model, String sampleShape) {
    ParityTest.matchesEagerBitForBit(model, sampleShape);
  }

  /** Each refused padding or normalize, on its line, naming the value's shape and the padding or the dimension as written. */
  @ParameterizedTest(name = "{1}")
  @CsvSource(delimiter = '|', value = {
    "pad(h, new int[] {1, 1, 1}) | pad(new int[] {1, 1, 1}) of [N, 4, 6]: the padding length must be divisible by 2 (a before and an"
        + " after count for each dimension, the last first), got 3",
    "pad(h, new int[] {0, 0, 0, 0, 1, 1}) | pad(new int[] {0, 0, 0, 0, 1, 1}) of [N, 4, 6]: 6 counts pad 3 dimensions, the batch"
        + " (dimension 0) among them, which a compiled forward keeps; pad at most the 2 after the batch (PyTorch pads the last"
        + " dimensions first)",
    "pad(h, new int[] {0, 0, 0, 0, 0, 0, 1, 1}) | pad(new int[] {0, 0, 0, 0, 0, 0, 1, 1}) of [N, 4, 6]: 8 counts pad 4 dimensions,"
        + " more than the 3 there are",
    "pad(h, new int[] {-3, -3}) | pad(new int[] {-3, -3}) of [N, 4, 6]: dimension 2 of size 6, padded by -3 and -3, would have size 0;"
        + " negative padding crops, leaving at least one entry in a compiled forward",
    "pad(h, new int[] {0, 0, -5, 0}, 2f) | pad(new int[] {0, 0, -5, 0}, 2.0) of [N, 4, 6]: dimension 1 of size 4, padded by -5 and 0,"
        + " would have size -1",
    "normalize(h, 2, 0, 1e-12) | normalize(p=2.0, dim=0, eps=1.0E-12) of [N, 4, 6]: dimension 0 is the batch, which a compiled"
        + " forward keeps; normalize along a dimension after it",
    "normalize(h, 2, 3, 1e-12) | normalize(p=2.0, dim=3, eps=1.0E-12) of [N, 4, 6]: dimension 3 is out of range for 3 dimensions"
        + " (-3..2)",
    "normalize(h, 0, 1, 1e-12) | normalize: p must be a finite number above 0, got 0.0",
  })
  void aPaddingOrNormalizeThatDoesNotFitIsAnErrorOnItsLine(String call, String message) {
    ProcessorTest.returnIsAnErrorOnItsLine("BadPad", call, message);
  }

  /** A Hardtanh whose bounds are out of order is named on its declaration, as eager mode refuses it. */
  @Test
  void hardtanhBoundsOutOfOrderAreAnError() {
    JavaFileObject f = ProcessorTest.classModel("BadArgs",
        "@Model(input = {6})",
        "public class BadArgs extends Module {",
        "  final Linear fc = new Linear(6, 6);",
        "  final Hardtanh clip = new Hardtanh(1, -1);",
        "  @Override public Tensor forward(Tensor x) {",
        "    Tensor h = fc.apply(clip.apply(x));",
        "    return h;",
        "  }",
        "}");
    Compilation c = ProcessorTest.compile(f);
    assertThat(c).hadErrorContaining("Hardtanh: max_val -1.0 must be above min_val 1.0").inFile(f)
        .onLineContaining("final Hardtanh clip = new Hardtanh(1, -1);");
  }
}
