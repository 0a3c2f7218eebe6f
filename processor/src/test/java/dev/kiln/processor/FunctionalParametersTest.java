package dev.kiln.processor;

import static com.google.testing.compile.CompilationSubject.assertThat;
import static dev.kiln.processor.ProcessorTest.classModel;
import static dev.kiln.processor.ProcessorTest.compile;

import com.google.testing.compile.Compilation;
import javax.tools.JavaFileObject;
import org.junit.jupiter.api.Test;

/**
 * {@code F.conv2d}/{@code F.conv1d} and {@code F.groupNorm} of the model's tensor fields in compiled models: what does not fit
 * is an error on the call's line, at compile time (values and gradients: ParityTest's and CudaCompiledTest's FunctionalConv
 * and FunctionalGroupNorm).
 */
class FunctionalParametersTest {
  /** A model of input {@code [4, 8, 8]} with the given fields whose forward returns {@code call}: its one error, on that line. */
  private static void returnIsAnError(String name, String call, String message, String... fields) {
    String[] lines = new String[fields.length + 6];
    lines[0] = "@Model(input = {4, 8, 8})";
    lines[1] = "public class " + name + " extends Module {";
    System.arraycopy(fields, 0, lines, 2, fields.length);
    lines[fields.length + 2] = "  @Override public Tensor forward(Tensor x) {";
    lines[fields.length + 3] = "    Tensor h = relu(x);";
    lines[fields.length + 4] = "    return " + call + ";";
    lines[fields.length + 5] = "  }\n}";
    JavaFileObject f = classModel(name, lines);
    Compilation c = compile(f);
    assertThat(c).hadErrorCount(1);
    assertThat(c).hadErrorContaining(message).inFile(f).onLineContaining("return " + call + ";");
  }

  private static final String W = "  final Tensor w = registerParameter(\"w\", Tensor.randn(6, 4, 3, 3).requiresGrad(true));";
  private static final String B = "  final Tensor b = registerParameter(\"b\", Tensor.zeros(6).requiresGrad(true));";

  @Test
  void aWeightThatIsNoTensorFieldIsNamed() {
    returnIsAnError("ValueWeight", "conv2d(x, h, null)", "conv2d(x, h, null): F.conv2d takes its weight from a tensor field of the model"
        + " (a parameter, final Tensor w = registerParameter(\"w\", Tensor.randn(O, C, k, k).mul(0.1f).requiresGrad(true)), or a"
        + " buffer); h is not one: declare it so, or declare a Conv2d field and apply it");
  }

  @Test
  void inputChannelsThatDoNotMatchTheWeightAreAnError() {
    returnIsAnError("ChannelsOff", "conv2d(h, w, b, 1, 1, 1, 2)", "conv2d(h, w, b, 1, 1, 1, 2): Conv2d(8, 6, kernel_size=(3, 3),"
        + " stride=(1, 1), padding=(1, 1), groups=2) expects [N, 8, H, W], receives [N, 4, 8, 8]", W, B);
  }

  @Test
  void aBiasOfTheWrongSizeIsAnError() {
    returnIsAnError("BiasOff", "conv2d(h, w, b)", "conv2d(h, w, b): the bias b [5] does not match the weight w [6, 4, 3, 3]"
        + " (expected [6])", W, "  final Tensor b = registerParameter(\"b\", Tensor.zeros(5).requiresGrad(true));");
  }

  @Test
  void aWeightOfTheWrongRankIsAnError() {
    returnIsAnError("RankOff", "conv1d(h.flatten(2, 3), w, null)", "conv1d(h.flatten(2, 3), w, null): the weight w must be [out, in /"
        + " groups, k], got [6, 4, 3, 3]", W);
  }

  @Test
  void groupsThatDoNotDivideTheChannelsAreAnError() {
    returnIsAnError("GroupsOff", "conv2d(h, w, b, 1, 0, 1, 4)", "conv2d(h, w, b, 1, 0, 1, 4): Conv2d(16, 6): out_channels 6 must be"
        + " divisible by groups 4", W, B);
  }

  @Test
  void aKernelLongerThanThePaddedInputIsAnError() {
    returnIsAnError("TooShort", "conv1d(h.flatten(2, 3), w, null, 1, 0, 40, 1)", "Conv1d(4, 2, kernel_size=(3,), stride=(1,),"
        + " dilation=(40,), bias=False) expects an input of length at least 81 after padding, receives [N, 4, 64], from h.flatten(2, 3)",
        "  final Tensor w = registerBuffer(\"w\", Tensor.randn(2, 4, 3));");
  }

  @Test
  void anUnregisteredWeightIsNamedOnItsDeclaration() {
    JavaFileObject f = classModel("UnregisteredWeight",
        "@Model(input = {4, 8})",
        "public class UnregisteredWeight extends Module {",
        "  final Tensor w = Tensor.randn(2, 4, 3);",
        "  @Override public Tensor forward(Tensor x) { return conv1d(x, w, null); }",
        "}");
    assertThat(compile(f)).hadErrorContaining("tensor field w is neither a parameter nor a buffer").inFile(f)
        .onLineContaining("final Tensor w = Tensor.randn(2, 4, 3);");
  }

  private static final String G = "  final Tensor g = registerParameter(\"g\", Tensor.ones(6).requiresGrad(true));";

  @Test
  void groupsThatDoNotDivideTheInputsChannelsAreAnError() {
    returnIsAnError("GnGroupsOff", "groupNorm(h, 3)", "groupNorm(h, 3): group_norm: expected the number of channels in the input to be"
        + " divisible by num_groups, but got input of shape [N, 4, 8, 8] and num_groups=3");
  }

  @Test
  void aWeightOfOtherChannelsIsAnError() {
    returnIsAnError("GnWeightOff", "groupNorm(h, 2, g, null, 1e-5)", "group_norm: input [N, 4, 8, 8] has 4 channels, but weight has"
        + " shape [6] (expected [4])", G);
  }

  @Test
  void aBiasOfAnotherSizeThanTheWeightIsAnError() {
    returnIsAnError("GnBiasOff", "groupNorm(h, 2, g, b, 1e-5)", "groupNorm(h, 2, g, b, 1.0E-5): the bias b [4] must be [C], one value a"
        + " channel, as the weight g [6]", G, "  final Tensor b = registerParameter(\"b\", Tensor.zeros(4).requiresGrad(true));");
  }

  @Test
  void aGroupNormWeightThatIsNoTensorFieldIsNamed() {
    returnIsAnError("GnValueWeight", "groupNorm(h, 2, h.sum(1), null, 1e-5)", "F.groupNorm takes its weight from a tensor field of the"
        + " model (a parameter, final Tensor w = registerParameter(\"w\", Tensor.ones(C).requiresGrad(true)), or a buffer) or null;"
        + " h.sum(1) is not one: declare it so, or declare a GroupNorm field and apply it");
  }
}
