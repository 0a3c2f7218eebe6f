package dev.kiln.processor;

import static com.google.testing.compile.CompilationSubject.assertThat;

import com.google.testing.compile.Compilation;
import java.io.IOException;
import javax.tools.JavaFileObject;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * The ops that ran in eager mode only until the eighteenth session, compiled: {@code logsumexp}, {@code norm},
 * {@code cumsum}, {@code flip}, {@code repeat}, {@code unbind}, {@code cosineSimilarity}: the golden source, eager mode's values and gradients
 * bit for bit, and the compile errors of a call that does not fit its value's shape, on their lines.
 */
class CompiledOpsTest {
  @ParameterizedTest(name = "{0}")
  @CsvSource({"LineOps", "FlipsAndRepeats", "UnboundRows", "CosineHeads", "CosineQueries", "CosinePrototypes"})
  void generatesTheGoldenSourceWithoutWarnings(String model) throws IOException {
    Compilation c = ProcessorTest.compile(ProcessorTest.model(model));
    assertThat(c).succeededWithoutWarnings();
    ProcessorTest.assertGolden(c, "Kiln" + model, "Kiln" + model + ".java");
  }

  @ParameterizedTest(name = "{0}")
  @CsvSource({"LineOps, 4:6", "FlipsAndRepeats, 4:6", "UnboundRows, 3:6", "CosineHeads, 4:6", "CosineQueries, 4:6", "CosinePrototypes, 6", "InputLineOps, 4:6"})
  void matchesEagerBitForBit(String model, String sampleShape) {
    ParityTest.matchesEagerBitForBit(model, sampleShape);
  }

  /** Each refused call, on its line, naming the value's shape and the call as written. */
  @ParameterizedTest(name = "{1}")
  @CsvSource(delimiter = '|', value = {
    "h.logsumexp(0) | logsumexp(0) of [N, 4, 6]: dimension 0 is the batch, which a compiled forward keeps; reduce along a"
        + " dimension after it, or outside forward",
    "h.logsumexp(3, true) | logsumexp(3, true) of [N, 4, 6]: dimension 3 is out of range for 3 dimensions (-3..2)",
    "h.norm(2, -3) | norm(2.0, -3) of [N, 4, 6]: dimension -3 is the batch",
    "h.norm(0, 1) | norm: p must be a finite number above 0, got 0.0",
    "h.norm() | x.norm() is the norm of every value of the batch together, and a compiled forward keeps the batch dimension",
    "h.cumsum(-4) | cumsum(-4) of [N, 4, 6]: dimension -4 is out of range for 3 dimensions (-3..2)",
    "h.cumsum(0) | cumsum(0) of [N, 4, 6]: dimension 0 is the batch, which a compiled forward keeps; sum along a dimension"
        + " after it, or outside forward",
    "h.flip(0) | flip(0) of [N, 4, 6]: dimension 0 is the batch, which a compiled forward keeps; flip dimensions after it",
    "h.flip(1, -2) | flip(1, -2) of [N, 4, 6]: dimension 1 appears multiple times in the list of dims",
    "h.flip(3) | flip(3) of [N, 4, 6]: dimension 3 is out of range for 3 dimensions (-3..2)",
    "h.repeat(2, 3) | repeat(2, 3) of [N, 4, 6]: number of dimensions of repeat dims (2) can not be smaller than number of"
        + " dimensions of tensor (3); give one count per dimension, the batch's 1 first: repeat(1, 1, 1)",
    "h.repeat() | repeat() of [N, 4, 6]: number of dimensions of repeat dims (0) can not be smaller than number of dimensions",
    "h.repeat(1, 1, 2, 3) | repeat(1, 1, 2, 3) of [N, 4, 6]: 4 counts for 3 dimensions add leading dimensions before the batch",
    "h.repeat(2, 1, 1) | repeat(2, 1, 1) of [N, 4, 6]: count 2 repeats the batch (dimension 0), which a compiled forward keeps",
    "h.repeat(1, 0, 1) | repeat(1, 0, 1) of [N, 4, 6]: count 0 at dimension 1 leaves no entry",
    "h.repeat(1, -1, 1) | repeat(1, -1, 1) of [N, 4, 6]: count -1 at dimension 1 is negative",
    "h.unbind(1)[4] | unbind(1) of [N, 4, 6] makes 4 pieces [1, 1, 1, 1], so it has no piece 4 (0..3)",
    "h.unbind(0)[0] | dimension 0 of [N, 4, 6] is the batch, which a compiled forward keeps; unbind a dimension after it",
    "cosineSimilarity(h, h.narrow(2, 0, 5)) | cosineSimilarity(dim=1, eps=1.0E-8) of [N, 4, 6] and [N, 4, 5]: sizes 6 and 5 at"
        + " dimension 2 differ and neither is 1",
    "cosineSimilarity(h, h.sum(1)) | cosineSimilarity(dim=1, eps=1.0E-8) of [N, 4, 6] and [N, 6]: their ranks differ, and both"
        + " start with the batch dimension, so their dimensions do not line up",
    "cosineSimilarity(h, h.mul(2f), 0, 1e-8) | cosineSimilarity(dim=0, eps=1.0E-8) of [N, 4, 6]: dimension 0 is the batch, which a"
        + " compiled forward keeps; compare along a dimension after it",
    "cosineSimilarity(h, h.mul(2f), 3, 1e-8) | cosineSimilarity(dim=3, eps=1.0E-8) of [N, 4, 6]: dimension 3 is out of range",
    "cosineSimilarity(h, h.mul(2f), 1, -1) | cosine_similarity: eps must be a finite number of 0 or more, got -1.0",
  })
  void aCallThatDoesNotFitIsAnErrorOnItsLine(String call, String message) {
    ProcessorTest.returnIsAnErrorOnItsLine("BadOps", call, message);
  }

  /** A tensor field compared with a value whose shape it does not broadcast over, on the call's line. */
  @ParameterizedTest(name = "{0}")
  @CsvSource(delimiter = '|', value = {
    "Tensor.randn(2, 4, 6) | cosineSimilarity(dim=1, eps=1.0E-8) of [N, 4, 6] and [2, 4, 6]: the tensor field's dimensions line up"
        + " with the value's last ones, and its first would stretch over the batch, which it is not 1 for",
    "Tensor.randn(1, 2, 4, 6) | cosineSimilarity(dim=1, eps=1.0E-8) of [N, 4, 6] and [1, 2, 4, 6]: the tensor field's dimensions"
        + " line up with the value's last ones, and it has more",
    "Tensor.randn(5) | cosineSimilarity(dim=1, eps=1.0E-8) of [N, 4, 6] and [5]: sizes 6 and 5 at dimension 2 of the broadcast"
        + " shape differ and neither is 1",
  })
  void aFieldThatDoesNotBroadcastIsAnErrorOnItsLine(String field, String message) {
    JavaFileObject f = ProcessorTest.classModel("BadField",
        "@Model(input = {4, 6})",
        "public class BadField extends Module {",
        "  final Linear fc = new Linear(6, 6);",
        "  final Tensor w = " + field + ".requiresGrad(true);",
        "  @Override public Tensor forward(Tensor x) {",
        "    return cosineSimilarity(fc.apply(x), w);",
        "  }",
        "}");
    Compilation c = ProcessorTest.compile(f);
    assertThat(c).hadErrorCount(1);
    assertThat(c).hadErrorContaining(message).inFile(f).onLineContaining("return cosineSimilarity(fc.apply(x), w);");
  }
}
