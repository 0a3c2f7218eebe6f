package dev.kiln.processor;

import static com.google.testing.compile.CompilationSubject.assertThat;
import static dev.kiln.processor.ProcessorTest.classModel;
import static dev.kiln.processor.ProcessorTest.compile;

import com.google.testing.compile.Compilation;
import java.io.IOException;
import javax.tools.JavaFileObject;
import org.junit.jupiter.api.Test;

/**
 * Sizes read from values in a compiled forward ({@code x.size(1)}, {@code x.shape()[1]}, {@code int[] s = x.shape()},
 * PyTorch's {@code B, T, C = x.size()}) fold to the sizes the processor infers; the batch stays the batch. Values and
 * gradients: {@code ParityTest.compiledMatchesEager} (RuntimeSizes), bit for bit.
 */
class RuntimeSizesTest {
  /** nanoGPT's attention written with sizes read from its input compiles to the code of its constants. */
  @Test
  void runtimeSizesGenerateTheGoldenSource() throws IOException {
    Compilation c = compile(ProcessorTest.model("RuntimeSizes"));
    assertThat(c).succeededWithoutWarnings();
    ProcessorTest.assertGolden(c, "KilnRuntimeSizes", "KilnRuntimeSizes.java");
  }

  /**
   * The forms beside RuntimeSizes': a while loop pooling until a size is small, sizes of a further input and in the method of
   * several outputs, a size compared in an if inside a loop, zeros of initial states sized by a value, the batch as a view's
   * first size through a local and through x.shape()[0].
   */
  @Test
  void sizesCompileWhereConstantsDo() {
    JavaFileObject f = classModel("SizeForms",
        "@Model(input = {1, 16, 16})",
        "public class SizeForms extends Module {",
        "  final Conv2d conv = new Conv2d(1, 4, 3).padding(1);",
        "  final GRU gru = new GRU(4, 5).batchFirst(true);",
        "  final Linear fc = new Linear(5, 3);",
        "  @Override public Tensor forward(Tensor x) {",
        "    x = conv.apply(x);",
        "    while (x.size(-1) > 4) { x = maxPool2d(x, 2); }",                 // [N, 4, 4, 4]
        "    int[] s = x.shape();",
        "    int n = s[0];",
        "    Tensor seq = x.view(n, s[1], s[2] * s[3]).transpose(1, 2);",       // [N, 16, 4]
        "    for (int i = 0; i < 3; i++) { if (seq.size(1) > 8) { seq = seq.narrow(1, 0, seq.size(1) / 2); } }",
        "    Tensor h0 = Tensor.zeros(1, seq.shape()[0], 5);",
        "    Tensor out = gru.forwardWithState(seq, h0).output();",
        "    return fc.apply(out.select(1, out.size(1) - 1).view(x.shape()[0], -1 + out.size(-1) + 1));",
        "  }",
        "  public Tensor both(Tensor x, @Input({4}) Tensor m) {",
        "    Tensor seq = conv.apply(x).view(-1, 4, 256).transpose(1, 2).narrow(2, 0, m.size(1));",
        "    return fc.apply(gru.apply(seq).select(1, -1)).add(m.narrow(1, 0, m.size(1) - 1));",
        "  }",
        "}");
    Compilation c = compile(f);
    assertThat(c).succeededWithoutWarnings();
  }

  /** A dimension out of range names the value, its shape and the dimension, on the line of the size read. */
  @Test
  void aDimensionOutOfRangeIsAnErrorOnItsLine() {
    JavaFileObject f = classModel("BadSizes",
        "@Model(input = {6})",
        "public class BadSizes extends Module {",
        "  final Tensor table = registerBuffer(\"table\", Tensor.ones(10, 6));",
        "  final Linear fc = new Linear(6, 6);",
        "  @Override public Tensor forward(Tensor x) {",
        "    Tensor h = fc.apply(x);",
        "    Tensor a = table.narrow(0, 0, h.size(3));",
        "    Tensor b = h.view(-1, h.shape()[-3]);",
        "    return h.add(a.sum(0)).add(b);",
        "  }",
        "}");
    Compilation c = compile(f);
    assertThat(c).hadErrorContaining("h.size(3): dimension 3 is out of range for h, of shape [N, 6] (2 dimensions: -2..1)")
        .inFile(f).onLineContaining("Tensor a =");
    assertThat(c).hadErrorContaining("h.shape()[-3]: dimension -3 is out of range for h, of shape [N, 6] (2 dimensions: -2..1)")
        .inFile(f).onLineContaining("Tensor b =");
    assertThat(c).hadErrorCount(2);
  }

  /** The batch's size where a constant must be is an error saying so, on its line: a slice bound, a view's later size, a loop bound. */
  @Test
  void theBatchSizeAsAConstantIsAnErrorOnItsLine() {
    JavaFileObject f = classModel("BatchSizes",
        "@Model(input = {6, 8})",
        "public class BatchSizes extends Module {",
        "  final Tensor bias = registerBuffer(\"bias\", Tensor.ones(10, 10).tril());",
        "  final Linear fc = new Linear(8, 8);",
        "  @Override public Tensor forward(Tensor x) {",
        "    int B = x.size(0);",
        "    Tensor m = bias.narrow(0, 0, x.size(0));",
        "    Tensor v = x.view(-1, B * 8);",
        "    for (int i = 0; i < x.shape()[0]; i++) { x = fc.apply(x); }",
        "    return fc.apply(x).add(m.sum(0)).add(v);",
        "  }",
        "}");
    Compilation c = compile(f);
    String batch = " is the batch size, which a compiled model takes from each call (it varies from call to call), not a"
        + " constant; a view or reshape takes it as its first size";
    assertThat(c).hadErrorContaining("bias.narrow(0, 0, x.size(0)): x.size(0)" + batch).inFile(f).onLineContaining("Tensor m =");
    assertThat(c).hadErrorContaining("x.view(-1, B * 8): B" + batch).inFile(f).onLineContaining("Tensor v =");
    assertThat(c).hadErrorContaining("unsupported loop in forward: its bound x.shape()[0] is the batch size, which varies from"
        + " call to call").inFile(f).onLineContaining("for (int i");
  }

  /**
   * A size of a value whose shape an earlier step's error leaves unknown adds no error of its own: the step's error is
   * reported on its line (where the checker would report it), the one error of the model.
   */
  @Test
  void aSizeAfterAShapeErrorReportsThatError() {
    JavaFileObject f = classModel("SizeAfterError",
        "@Model(input = {6})",
        "public class SizeAfterError extends Module {",
        "  final Tensor table = registerBuffer(\"table\", Tensor.ones(10, 4));",
        "  final Linear fc = new Linear(5, 4);",
        "  @Override public Tensor forward(Tensor x) {",
        "    Tensor h = fc.apply(x);",
        "    Tensor a = table.narrow(0, 0, h.size(1));",
        "    return h.add(a.sum(0));",
        "  }",
        "}");
    Compilation c = compile(f);
    assertThat(c).hadErrorContaining("fc: Linear(in_features=5, out_features=4, bias=True) expects [N, 5], receives [N, 6]")
        .inFile(f).onLineContaining("Tensor h = fc.apply(x);");
    assertThat(c).hadErrorCount(1);
  }
}
