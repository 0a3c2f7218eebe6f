package dev.kiln.processor;

import static com.google.testing.compile.CompilationSubject.assertThat;
import static com.google.testing.compile.Compiler.javac;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.testing.compile.Compilation;
import com.google.testing.compile.JavaFileObjects;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.stream.Collectors;
import javax.tools.JavaFileObject;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * Golden generated sources for the MLP in both declaration forms, and one test per diagnostic,
 * each checked on its file and line. Set KILN_REGENERATE_GOLDEN=1 to rewrite the golden files
 * after an intended change of the generator.
 */
class ProcessorTest {
  static JavaFileObject model(String name) {
    return JavaFileObjects.forResource("models/" + name + ".java");
  }

  /**
   * Compiles with every lint but "processing" as errors ("processing" only says that no processor
   * claimed @Generated, which no generator can avoid; Kiln's own build uses the same setting).
   */
  static Compilation compile(JavaFileObject... sources) {
    return javac().withProcessors(new ModelProcessor()).withOptions("-Xlint:all,-processing", "-Werror").compile(sources);
  }

  static void assertGolden(Compilation c, String generated, String goldenName) throws IOException {
    JavaFileObject file = c.generatedSourceFile("test." + generated).orElseThrow();
    String actual = file.getCharContent(false).toString();
    Path golden = Path.of("src/test/resources/expected/" + goldenName);
    if (System.getenv("KILN_REGENERATE_GOLDEN") != null) {
      Files.writeString(golden, actual, StandardCharsets.UTF_8);
    }
    assertEquals(Files.readString(golden, StandardCharsets.UTF_8), actual,
        "generated " + generated + " differs from " + golden + " (KILN_REGENERATE_GOLDEN=1 rewrites it)");
  }

  /**
   * Each model compiles without warnings into the golden source: class form, method form, every
   * supported construct, a small CNN (BN+ReLU+pooling fused), several outputs (delegating
   * {@code forward}, and beside a {@code forward} with its own body).
   */
  @ParameterizedTest(name = "{0} -> {2}")
  @CsvSource({
      "Mlp, KilnMlp, KilnMlp.class-form.java",
      "Models, KilnMlp, KilnMlp.method-form.java",
      "Mixed, KilnMixed, KilnMixed.java",
      "TrainingModes, KilnTrainingModes, KilnTrainingModes.java",
      "SmallCnn, KilnSmallCnn, KilnSmallCnn.java",
      "HiddenMlp, KilnHiddenMlp, KilnHiddenMlp.java",
      "HiddenCnn, KilnHiddenCnn, KilnHiddenCnn.java",
      "Activations, KilnActivations, KilnActivations.java",
      "SoftmaxMaps, KilnSoftmaxMaps, KilnSoftmaxMaps.java",
      "Residual, KilnResidual, KilnResidual.java",
      "Pools, KilnPools, KilnPools.java",
      "SequenceCnn, KilnSequenceCnn, KilnSequenceCnn.java",
      "MobileBlock, KilnMobileBlock, KilnMobileBlock.java",
      "Inception, KilnInception, KilnInception.java",
      "HiddenResidual, KilnHiddenResidual, KilnHiddenResidual.java",
      "Broadcasts, KilnBroadcasts, KilnBroadcasts.java",
      "SqueezeExcite, KilnSqueezeExcite, KilnSqueezeExcite.java",
      "MnistExample, KilnMnistExample, KilnMnistExample.java",
      "Attention, KilnAttention, KilnAttention.java",
      "MultiHeadAttention, KilnMultiHeadAttention, KilnMultiHeadAttention.java",
      "CausalBlock, KilnCausalBlock, KilnCausalBlock.java",
      "FusedQkvBlock, KilnFusedQkvBlock, KilnFusedQkvBlock.java",
      "SelfAttentionLayers, KilnSelfAttentionLayers, KilnSelfAttentionLayers.java",
      "CausalSdpa, KilnCausalSdpa, KilnCausalSdpa.java",
      "CrossAttention, KilnCrossAttention, KilnCrossAttention.java",
      "CausalDecoderLayer, KilnCausalDecoderLayer, KilnCausalDecoderLayer.java",
      "GatedPieces, KilnGatedPieces, KilnGatedPieces.java",
      "SignedPieces, KilnSignedPieces, KilnSignedPieces.java",
      "SplitHeads, KilnSplitHeads, KilnSplitHeads.java",
      "PositionTable, KilnPositionTable, KilnPositionTable.java",
      "TinyGpt, KilnTinyGpt, KilnTinyGpt.java",
      "MeanPool, KilnMeanPool, KilnMeanPool.java",
      "CenteredGates, KilnCenteredGates, KilnCenteredGates.java",
      "MapReductions, KilnMapReductions, KilnMapReductions.java",
      "TextLstm, KilnTextLstm, KilnTextLstm.java",
      "BiGru, KilnBiGru, KilnBiGru.java",
      "SeqRnn, KilnSeqRnn, KilnSeqRnn.java",
      "LstmLastState, KilnLstmLastState, KilnLstmLastState.java",
      "Seq2SeqLstm, KilnSeq2SeqLstm, KilnSeq2SeqLstm.java",
      "TutorialLstm, KilnTutorialLstm, KilnTutorialLstm.java",
      "TutorialGru, KilnTutorialGru, KilnTutorialGru.java",
      "BiGruStates, KilnBiGruStates, KilnBiGruStates.java",
      "CellStates, KilnCellStates, KilnCellStates.java",
      "ByHand, KilnByHand, KilnByHand.java",
      "FieldProducts, KilnFieldProducts, KilnFieldProducts.java",
      "TokenMixer, KilnTokenMixer, KilnTokenMixer.java",
      "TwoTower, KilnTwoTower, KilnTwoTower.java",
      "PairEmbeddings, KilnPairEmbeddings, KilnPairEmbeddings.java",
      "MaskedTokens, KilnMaskedTokens, KilnMaskedTokens.java",
      "MaskedAttention, KilnMaskedAttention, KilnMaskedAttention.java",
      "Recommender, KilnRecommender, KilnRecommender.java",
      "TaggedImage, KilnTaggedImage, KilnTaggedImage.java",
      "CausalLocal, KilnCausalLocal, KilnCausalLocal.java",
      "PaddedText, KilnPaddedText, KilnPaddedText.java",
      "PaddedMeanPool, KilnPaddedMeanPool, KilnPaddedMeanPool.java",
      "ActivationMasks, KilnActivationMasks, KilnActivationMasks.java",
      "SlicedMasks, KilnSlicedMasks, KilnSlicedMasks.java",
      "WhereBroadcasts, KilnWhereBroadcasts, KilnWhereBroadcasts.java",
      "PositionGpt, KilnPositionGpt, KilnPositionGpt.java",
      "BagText, KilnBagText, KilnBagText.java",
      "SlicedParameters, KilnSlicedParameters, KilnSlicedParameters.java",
      "BufferThresholds, KilnBufferThresholds, KilnBufferThresholds.java",
      "ShiftedIds, KilnShiftedIds, KilnShiftedIds.java",
      "MovedIds, KilnMovedIds, KilnMovedIds.java",
      "IdsOfIds, KilnIdsOfIds, KilnIdsOfIds.java",
      "ScatterWrites, KilnScatterWrites, KilnScatterWrites.java",
      "BufferIndexes, KilnBufferIndexes, KilnBufferIndexes.java",
      "BufferPositions, KilnBufferPositions, KilnBufferPositions.java",
      "BroadcastIds, KilnBroadcastIds, KilnBroadcastIds.java",
      "SummedIds, KilnSummedIds, KilnSummedIds.java",
      "GroupNormNet, KilnGroupNormNet, KilnGroupNormNet.java",
      "FunctionalConv, KilnFunctionalConv, KilnFunctionalConv.java",
      "FunctionalGroupNorm, KilnFunctionalGroupNorm, KilnFunctionalGroupNorm.java"
  })
  void generatesTheGoldenSourceWithoutWarnings(String model, String generated, String golden) throws IOException {
    Compilation c = compile(model(model));
    assertThat(c).succeededWithoutWarnings();
    assertGolden(c, generated, golden);
  }

  @Test
  void severalOutputsAsArrayAndThroughSoftmaxCompileWithoutWarnings() throws IOException {
    Compilation c = compile(model("HiddenArray"), model("HiddenSoftmax"));
    assertThat(c).succeededWithoutWarnings();
    assertGolden(c, "KilnHiddenArray", "KilnHiddenArray.java");
    assertGolden(c, "KilnHiddenSoftmax", "KilnHiddenSoftmax.java");
  }

  /**
   * A dropout with p = 0 is planned as a view: the CUDA form passes the value on, a dropout with
   * p > 0 calls {@code F.dropout} with the model's training flag, and a plan without batch norm
   * or Linear + ReLU has no CUDA source of its own.
   */
  @Test
  void cudaFormOfDropoutAndViews() throws IOException {
    JavaFileObject f = classModel("Drops",
        "@Model(input = {1, 4, 4})",
        "public class Drops extends Module {",
        "  final Dropout none = new Dropout(0.0);",
        "  final Dropout half = new Dropout(0.5);",
        "  final Linear fc = new Linear(16, 3);",
        "  @Override public Tensor forward(Tensor x) {",
        "    return fc.apply(half.apply(none.apply(flatten(x))));",
        "  }",
        "}");
    Compilation c = compile(f);
    assertThat(c).succeededWithoutWarnings();
    String generated = c.generatedSourceFile("test.KilnDrops").orElseThrow().getCharContent(false).toString();
    String cuda = generated.substring(generated.indexOf("private Tensor forwardCuda(Tensor x)"));
    cuda = cuda.substring(0, cuda.indexOf("\n  }\n"));
    assertTrue(cuda.contains("Tensor v1 = F.flatten(x, 1, -1);"), cuda);
    assertTrue(cuda.contains("Tensor v2 = v1;"), cuda);
    assertTrue(cuda.contains("training[3] = half.isTraining();"), cuda);
    assertTrue(cuda.contains("Tensor v3 = F.dropout(v2, 0.5, training[3]);"), cuda);
    assertTrue(cuda.contains("Tensor v4 = fc.apply(v3);"), cuda);
    assertFalse(generated.contains("CudaCode"), "no generated kernels, no CUDA source: " + generated);
  }

  @Test
  void convolutionShapeErrorsNameTheLayerAndTheShapes() {
    JavaFileObject f = classModel("BadCnn",
        "@Model(input = {1, 28, 28})",
        "public class BadCnn extends Module {",
        "  final Conv2d conv1 = new Conv2d(3, 8, 3).padding(1);",
        "  final Linear fc1 = new Linear(1000, 10);",
        "  @Override public Tensor forward(Tensor x) {",
        "    x = maxPool2d(relu(conv1.apply(x)), 2);",
        "    x = flatten(x);",
        "    return fc1.apply(x);",
        "  }",
        "}");
    Compilation c = compile(f);
    assertThat(c).hadErrorContaining("conv1: Conv2d(3, 8").inFile(f).onLineContaining("x = maxPool2d(relu(conv1.apply(x)), 2);");
    assertThat(c).hadErrorContaining("receives [N, 1, 28, 28]");
  }

  @Test
  void flattenedSizeIsGivenForTheNextLinear() {
    JavaFileObject f = classModel("BadFlat",
        "@Model(input = {1, 28, 28})",
        "public class BadFlat extends Module {",
        "  final Conv2d conv1 = new Conv2d(1, 32, 3).padding(1);",
        "  final Linear fc1 = new Linear(1152, 10);",
        "  @Override public Tensor forward(Tensor x) {",
        "    x = maxPool2d(relu(conv1.apply(x)), 2);",
        "    return fc1.apply(flatten(x));",
        "  }",
        "}");
    Compilation c = compile(f);
    assertThat(c).hadErrorContaining("fc1: Linear(in_features=1152, out_features=10, bias=True) expects [N, 1152], receives [N, 6272], from flatten(x)")
        .inFile(f).onLineContaining("return fc1.apply(flatten(x));");
  }

  /** Compiled code plans values per sample: a flatten that folds the batch in is refused on its line (it once ran N values instead of N * 4). */
  @Test
  void flatteningTheBatchIsACompileError() {
    JavaFileObject f = classModel("FlatBatch",
        "@Model(input = {4})",
        "public class FlatBatch extends Module {",
        "  final Linear fc = new Linear(4, 4);",
        "  @Override public Tensor forward(Tensor x) {",
        "    Tensor h = relu(fc.apply(x));",
        "    return softmax(flatten(h, 0, -1), 0);",
        "  }",
        "}");
    Compilation c = compile(f);
    assertThat(c).hadErrorContaining("flatten(h, 0, -1) merges the batch dimension with others ([N, 4] -> [4N]): a compiled model keeps"
        + " dimension 0 as the batch; flatten from dimension 1").inFile(f).onLineContaining("return softmax(flatten(h, 0, -1), 0);");
  }

  @Test
  void poolingWindowLargerThanTheInput() {
    JavaFileObject f = classModel("BigPool",
        "@Model(input = {1, 4, 4})",
        "public class BigPool extends Module {",
        "  final MaxPool2d pool = new MaxPool2d(5);",
        "  @Override public Tensor forward(Tensor x) { return pool.apply(x); }",
        "}");
    Compilation c = compile(f);
    assertThat(c).hadErrorContaining("pool: MaxPool2d(kernel_size=5").inFile(f).onLineContaining("return pool.apply(x)");
  }

  /** A 1-d layer's shape error names the layer and the shape on the call's line; a kernel longer than the input too. */
  @Test
  void oneDimensionalLayerShapeErrorsAreOnTheirLines() {
    JavaFileObject f = classModel("BadSequences",
        "@Model(input = {4, 32})",
        "public class BadSequences extends Module {",
        "  final Conv1d conv = new Conv1d(4, 8, 40);",
        "  final Conv1d wide = new Conv1d(6, 8, 3);",
        "  @Override public Tensor forward(Tensor x) {",
        "    Tensor h = conv.apply(x);",
        "    Tensor g = wide.apply(maxPool1d(x, 2));",
        "    return add(h, g);",
        "  }",
        "}");
    Compilation c = compile(f);
    assertThat(c).hadErrorContaining("conv: Conv1d(4, 8, kernel_size=(40,), stride=(1,)) expects an input of length at least 40"
        + " after padding, receives [N, 4, 32]").inFile(f).onLineContaining("Tensor h = conv.apply(x);");
    assertThat(c).hadErrorContaining("wide: Conv1d(6, 8, kernel_size=(3,), stride=(1,)) expects [N, 6, L], receives [N, 4, 16]")
        .inFile(f).onLineContaining("Tensor g = wide.apply(maxPool1d(x, 2));");

    JavaFileObject groups = classModel("BadGroups",
        "@Model(input = {6, 8, 8})",
        "public class BadGroups extends Module {",
        "  final Conv2d depthwise = new Conv2d(6, 6, 3).padding(1).groups(4);",
        "  @Override public Tensor forward(Tensor x) { return depthwise.apply(x); }",
        "}");
    assertThat(compile(groups)).hadErrorContaining("Conv2d(6, 6): in_channels 6 must be divisible by groups 4").inFile(groups)
        .onLineContaining("new Conv2d(6, 6, 3).padding(1).groups(4);");
    JavaFileObject dilated = classModel("BadDilation",
        "@Model(input = {6, 9})",
        "public class BadDilation extends Module {",
        "  final Conv1d conv = new Conv1d(6, 6, 3).dilation(5).groups(3);",
        "  @Override public Tensor forward(Tensor x) {",
        "    return conv.apply(x);",
        "  }",
        "}");
    assertThat(compile(dilated)).hadErrorContaining("conv: Conv1d(6, 6, kernel_size=(3,), stride=(1,), dilation=(5,), groups=3) expects"
        + " an input of length at least 11 after padding, receives [N, 6, 9]").inFile(dilated).onLineContaining("return conv.apply(x);");

    JavaFileObject pool = classModel("BigPool1d",
        "@Model(input = {4, 3})",
        "public class BigPool1d extends Module {",
        "  @Override public Tensor forward(Tensor x) { return avgPool1d(x, 4); }",
        "}");
    assertThat(compile(pool)).hadErrorContaining("AvgPool1d(kernel_size=(4,), stride=(4,), padding=(0,)) expects an input of length"
        + " at least 4 after padding, receives [N, 4, 3]").inFile(pool).onLineContaining("return avgPool1d(x, 4);");
  }

  private static JavaFileObject source(String name, String... lines) {
    return JavaFileObjects.forSourceLines("test." + name, lines);
  }

  private static final String[] HEADER = {
    "package test;",
    "import static dev.kiln.dsl.F.*;",
    "import dev.kiln.dsl.*;",
    "import dev.kiln.dsl.Module;", // a wildcard alone is ambiguous with java.lang.Module
    "import dev.kiln.runtime.Tensor;",
  };

  static JavaFileObject classModel(String name, String... body) {
    String[] lines = new String[HEADER.length + body.length];
    System.arraycopy(HEADER, 0, lines, 0, HEADER.length);
    System.arraycopy(body, 0, lines, HEADER.length, body.length);
    return source(name, lines);
  }

  /**
   * A model of input {@code [4, 6]} whose forward returns {@code call} of {@code h = fc.apply(x)} ({@code [N, 4, 6]}) has
   * one error, {@code message}, on the return's line.
   */
  static void returnIsAnErrorOnItsLine(String name, String call, String message) {
    JavaFileObject f = classModel(name,
        "@Model(input = {4, 6})",
        "public class " + name + " extends Module {",
        "  final Linear fc = new Linear(6, 6);",
        "  @Override public Tensor forward(Tensor x) {",
        "    Tensor h = fc.apply(x);",
        "    return " + call + ";",
        "  }",
        "}");
    Compilation c = compile(f);
    assertThat(c).hadErrorCount(1);
    assertThat(c).hadErrorContaining(message).inFile(f).onLineContaining("return " + call + ";");
  }

  @Test
  void linearInFeaturesMismatchIsReportedOnTheCall() {
    JavaFileObject f = classModel("Bad",
        "@Model(input = {1, 28, 28})",
        "public class Bad extends Module {",
        "  final Linear fc1 = new Linear(1152, 10);",
        "  @Override public Tensor forward(Tensor x) {",
        "    x = flatten(x);",
        "    return fc1.apply(x);",
        "  }",
        "}");
    Compilation c = compile(f);
    assertThat(c).hadErrorCount(1);
    assertThat(c).hadErrorContaining(
            "fc1: Linear(in_features=1152, out_features=10, bias=True) expects [N, 1152], receives [N, 784], from flatten(x)")
        .inFile(f).onLineContaining("return fc1.apply(x)");
  }

  @Test
  void sequentialMismatchIsReportedOnTheLayer() {
    JavaFileObject f = source("Seq",
        "package test;",
        "import dev.kiln.dsl.*;",
        "public class Seq {",
        "  @Model(input = {784})",
        "  static Sequential net() {",
        "    return Sequential.of(new Linear(784, 256), new ReLU(),",
        "        new Linear(128, 10));",
        "  }",
        "}");
    Compilation c = compile(f);
    assertThat(c).hadErrorContaining("2: Linear(in_features=128, out_features=10, bias=True) expects [N, 128], receives [N, 256], "
        + "from 1 ReLU()").inFile(f).onLineContaining("new Linear(128, 10)");
  }

  @Test
  void nonConstantArgumentIsReportedOnTheArgument() {
    JavaFileObject f = classModel("NonConst",
        "@Model(input = {4})",
        "public class NonConst extends Module {",
        "  int hidden = 8;",
        "  final Linear fc1 = new Linear(4, hidden);",
        "  @Override public Tensor forward(Tensor x) { return fc1.apply(x); }",
        "}");
    Compilation c = compile(f);
    assertThat(c).hadErrorContaining("fc1: argument 'hidden' of Linear is not a compile-time constant")
        .inFile(f).onLineContaining("new Linear(4, hidden)");
  }

  /**
   * A Sequential field's layer that does not fit the layer before it is reported on its own line in
   * the field's initializer, where the fix goes; its first layer, fed from forward, on the call.
   */
  @Test
  void sequentialFieldLayerMismatchIsReportedOnTheLayer() {
    JavaFileObject f = classModel("SeqField",
        "@Model(input = {1, 6, 6})",
        "public class SeqField extends Module {",
        "  final Sequential features = Sequential.of(",
        "      new Conv2d(1, 2, 3),",
        "      new Flatten(),",
        "      new Linear(2 * 6 * 6, 4));",
        "  final Sequential head = Sequential.of(new Linear(5, 3));",
        "  @Override public Tensor forward(Tensor x) {",
        "    Tensor h = features.apply(x);",
        "    return head.apply(h);",
        "  }",
        "}");
    Compilation c = compile(f);
    assertThat(c).hadErrorContaining("features.2: Linear(in_features=72, out_features=4, bias=True) expects [N, 72], "
        + "receives [N, 32], from features.1 Flatten(start_dim=1, end_dim=-1), in features.apply(x) at SeqField.java:")
        .inFile(f).onLineContaining("new Linear(2 * 6 * 6, 4));");
    assertThat(c).hadErrorCount(1); // head.0 is fed by the broken layer: no second error

    JavaFileObject twice = classModel("SeqTwice", // the same call text twice: the second's first layer is fed from forward
        "@Model(input = {6})",
        "public class SeqTwice extends Module {",
        "  final Sequential block = Sequential.of(new Linear(6, 4), new ReLU());",
        "  @Override public Tensor forward(Tensor x) {",
        "    x = block.apply(x);",
        "    x = block.apply(x);",
        "    return x;",
        "  }",
        "}");
    Compilation c2 = compile(twice);
    assertThat(c2).hadErrorContaining("block.0: Linear(in_features=6, out_features=4, bias=True) expects [N, 6], receives "
        + "[N, 4], from block.1 ReLU()").inFile(twice).onLine(11);
  }

  /** A generic model class gives a generic compiled class (no raw type, so no rawtypes warning under -Xlint:all). */
  @Test
  void genericModelClassCompilesWithoutWarnings() {
    JavaFileObject f = classModel("Tagged",
        "@Model(input = {4})",
        "public class Tagged<T extends Comparable<T>> extends Module {",
        "  final Linear fc1 = new Linear(4, 2);",
        "  T tag;",
        "  @Override public Tensor forward(Tensor x) { return fc1.apply(x); }",
        "}");
    JavaFileObject user = source("User",
        "package test;",
        "class User {",
        "  static KilnTagged<String> make() { return new KilnTagged<String>().eval(); }",
        "}");
    assertThat(compile(f, user)).succeededWithoutWarnings();
  }

  /** PyTorch's forward(self, image, meta): one error on that method, not the noise of the one-tensor stub beside it. */
  @Test
  void aForwardOfTwoTensorsSaysACompiledModelTakesOne() {
    JavaFileObject f = classModel("TwoInputs",
        "@Model(input = {4})",
        "public class TwoInputs extends Module {",
        "  final Linear fc1 = new Linear(4, 2);",
        "  @Override public Tensor forward(Tensor x) { throw new UnsupportedOperationException(); }",
        "  public Tensor forward(Tensor image, Tensor meta) { return fc1.apply(image).add(meta); }",
        "}");
    Compilation c = compile(f);
    assertThat(c).hadErrorContaining(Message.SEVERAL_INPUTS.format("TwoInputs", 2))
        .inFile(f).onLineContaining("public Tensor forward(Tensor image, Tensor meta)");
    assertThat(c).hadErrorCount(1);

    JavaFileObject overload = classModel("Noisy", // a one-tensor forward of its own: compiled, the overload left as written
        "@Model(input = {4})",
        "public class Noisy extends Module {",
        "  final Linear fc1 = new Linear(4, 2);",
        "  @Override public Tensor forward(Tensor x) { return fc1.apply(x); }",
        "  public Tensor forward(Tensor x, Tensor noise) { return forward(x.add(noise)); }",
        "}");
    assertThat(compile(overload)).succeededWithoutWarnings();
  }

  @Test
  void layerAssignedOnceInTheConstructorCompiles() {
    JavaFileObject f = classModel("Late",
        "@Model(input = {4})",
        "public class Late extends Module {",
        "  final Linear fc1;",
        "  public Late() { fc1 = new Linear(4, 2); }",
        "  @Override public Tensor forward(Tensor x) { return fc1.apply(x); }",
        "}");
    assertThat(compile(f)).succeededWithoutWarnings();
  }

  @Test
  void layerWithoutAnyValueIsReportedOnTheField() {
    JavaFileObject f = classModel("Never",
        "@Model(input = {4})",
        "public class Never extends Module {",
        "  Linear fc1;",
        "  @Override public Tensor forward(Tensor x) { return fc1.apply(x); }",
        "}");
    Compilation c = compile(f);
    assertThat(c).hadErrorContaining("layer field fc1 is given no layer the compiler can read: declare it as "
        + "'final Linear fc1 = new Linear(...);' or assign it once in the constructor without parameters "
        + "('fc1 = new Linear(...);')").inFile(f).onLineContaining("Linear fc1;");
  }

  @ParameterizedTest(name = "{0}")
  @CsvSource(delimiter = '|', value = {
      "fc1 = new Linear(4, 2); fc1 = new Linear(4, 3);| more than once",
      "if (Math.random() > 2) { fc1 = new Linear(4, 2); } else { fc1 = new Linear(4, 3); }| more than once",
      "{ fc1 = new Linear(4, 2); }| inside a block, branch or loop",
  })
  void layerAssignedInABranchOrTwiceIsReportedOnTheAssignment(String body, String how) {
    JavaFileObject f = classModel("Twice",
        "@Model(input = {4})",
        "public class Twice extends Module {",
        "  final Linear fc1;",
        "  public Twice() {",
        "    " + body,
        "  }",
        "  @Override public Tensor forward(Tensor x) { return fc1.apply(x); }",
        "}");
    Compilation c = compile(f);
    assertThat(c).hadErrorContaining("layer field fc1 is assigned " + how.strip() + " in the constructor")
        .inFile(f).onLineContaining("fc1 = new Linear(4,");
  }

  @Test
  void layerAssignedFromAConstructorParameterIsNotAConstant() {
    JavaFileObject f = classModel("Sized",
        "@Model(input = {4})",
        "public class Sized extends Module {",
        "  final Linear fc1;",
        "  public Sized() { this(2); }",
        "  Sized(int out) { fc1 = new Linear(4, out); }",
        "  @Override public Tensor forward(Tensor x) { return fc1.apply(x); }",
        "}");
    Compilation c = compile(f);
    assertThat(c).hadErrorContaining("layer field fc1 is not assigned in the constructor without parameters, which "
        + "delegates with this(2): the compiler reads layers from their initializers and that constructor, whose values it "
        + "knows; layer sizes cannot come from constructor parameters: use static final constants")
        .inFile(f).onLineContaining("final Linear fc1;");
  }

  @Test
  void ambiguousModuleSaysWhichImportToAdd() {
    JavaFileObject f = JavaFileObjects.forSourceLines("test.Star",
        "package test;",
        "import dev.kiln.dsl.*;",
        "import dev.kiln.runtime.Tensor;",
        "@Model(input = {4})",
        "public class Star extends Module {",
        "  final Linear fc1 = new Linear(4, 2);",
        "  public Tensor forward(Tensor x) { return fc1.apply(x); }",
        "}");
    Compilation c = compile(f);
    assertThat(c).hadErrorContaining("@Model class Star: 'extends Module' is ambiguous between dev.kiln.dsl.Module and "
        + "java.lang.Module when dev.kiln.dsl.* is imported; add import dev.kiln.dsl.Module;").inFile(f)
        .onLineContaining("public class Star");
    assertEquals(1, c.errors().stream().filter(d -> d.getMessage(null).contains("@Model class Star")).count(),
        "said once, not again in a later round: " + c.errors());
  }

  @Test
  void unsupportedConstructSaysWhatToWriteInstead() {
    JavaFileObject f = classModel("Loop",
        "@Model(input = {4})",
        "public class Loop extends Module {",
        "  final Linear fc1 = new Linear(4, 4);",
        "  @Override public Tensor forward(Tensor x) {",
        "    if (x != null) { x = fc1.apply(x); }",
        "    return x;",
        "  }",
        "}");
    Compilation c = compile(f);
    assertThat(c).hadErrorContaining("unsupported statement in forward: if 'if (x != null) { ...'")
        .inFile(f).onLineContaining("if (x != null)");
    assertThat(c).hadErrorContaining("write local assignments");
  }

  @Test
  void unknownCallAndNonLayerAreReported() {
    JavaFileObject f = classModel("Calls",
        "@Model(input = {4})",
        "public class Calls extends Module {",
        "  final Linear fc1 = new Linear(4, 4);",
        "  final Tensor scale = Tensor.ones(4);",
        "  @Override public Tensor forward(Tensor x) {",
        "    x = x.mul(scale);",
        "    return fc1.apply(x);",
        "  }",
        "}");
    Compilation c = compile(f);
    assertThat(c).hadErrorContaining(Message.TENSOR_UNREGISTERED.format("scale", "scale", "scale"))
        .inFile(f).onLineContaining("final Tensor scale = Tensor.ones(4);");
  }

  /**
   * A misspelt class, constant, method or variable gets javac's own "cannot find symbol" on its
   * line, and no message of ours (which would make javac drop its own).
   */
  @Test
  void typosAreLeftToJavac() {
    JavaFileObject f = classModel("Typos",
        "@Model(input = {16})",
        "public class Typos extends Module {",
        "  final Linear fc1 = new Lineer(16, 8);",
        "  final Linear fc2 = new Linear(8, HIDEN);",
        "  @Override public Tensor forward(Tensor x) {",
        "    Tensor h = relu(fc1.aply(x));",
        "    h = rellu(h);",
        "    return fc3.apply(hh);",
        "  }",
        "}");
    Compilation c = compile(f);
    assertThat(c).failed();
    for (String line : List.of("new Lineer(16, 8)", "new Linear(8, HIDEN)", "fc1.aply(x)", "rellu(h)", "fc3.apply(hh)")) {
      assertThat(c).hadErrorContaining("cannot find symbol").inFile(f).onLineContaining(line);
    }
    assertTrue(c.errors().stream().allMatch(d -> d.getMessage(null).contains("cannot find symbol")), c.errors().toString());
  }

  /**
   * An ordinary Java mistake in a model gets javac's own error and none of ours: a processor error
   * would make javac stop after processing and drop its errors (a type mismatch then read as
   * "unsupported expression", a Sequential builder call as "not an initializer the compiler
   * reads", an undefined constant as "not a compile-time constant", a record built with the wrong
   * arguments as an internal error). Each case's errors are javac's without the processor.
   */
  @Test
  void javaMistakesAreLeftToJavac() {
    String[][] cases = { // the mistake, javac's message
        {"  final Sequential features = Sequential.builder().add(\"c\", new Conv2d(1, 4, 3).padding(\"1\")).build();",
            "String cannot be converted to int"},
        {"  final Sequential features = Sequential.builder().add(\"c\", new Conv2d(1, 4, 3)).biuld();", "cannot find symbol"},
        {"  static final int HIDDEN = SIZE * 2;", "cannot find symbol"},
        {"  static final int HIDDEN = 64.0;", "possible lossy conversion from double to int"},
        {"  Tensor one(Tensor x) { return fc.apply(1); }", "int cannot be converted to dev.kiln.runtime.Tensor"},
        {"  Tensor one(Tensor x) { return 1; }", "int cannot be converted to dev.kiln.runtime.Tensor"},
        {"  Tensor one(Tensor x) { return Mistake.fc.apply(x); }", "non-static variable fc cannot be referenced from a static context"},
        {"  Tensor one(Tensor x) { fc.apply(x); }", "missing return statement"},
    };
    for (String[] c : cases) {
      boolean usesOne = c[0].contains("one(");
      JavaFileObject f = classModel("Mistake",
          "@Model(input = {8})",
          "public class Mistake extends Module {",
          c[0].contains("HIDDEN") ? c[0] : "  static final int HIDDEN = 4;",
          c[0].contains("Sequential") ? c[0] : "",
          "  final Linear fc = new Linear(8, HIDDEN);",
          usesOne ? c[0] : "",
          "  @Override public Tensor forward(Tensor x) { return " + (usesOne ? "one(x)" : "fc.apply(x)") + "; }",
          "}");
      assertJavacAlone(f, c[1]);
    }
    // an undefined constant in @Model's input, a record of outputs built with too few values
    assertJavacAlone(classModel("Input",
        "@Model(input = {1, 28, SIDE})",
        "public class Input extends Module {",
        "  final Linear fc = new Linear(28, 4);",
        "  @Override public Tensor forward(Tensor x) { return fc.apply(x); }",
        "}"), "cannot find symbol");
    assertJavacAlone(classModel("Record",
        "@Model(input = {8})",
        "public class Record extends Module {",
        "  public record Outputs(Tensor output, Tensor hidden) {}",
        "  final Linear fc1 = new Linear(8, 4);",
        "  final Linear fc2 = new Linear(4, 2);",
        "  public Outputs forwardWithHidden(Tensor x) {",
        "    Tensor hidden = fc1.apply(x);",
        "    return new Outputs(fc2.apply(hidden));",
        "  }",
        "  @Override public Tensor forward(Tensor x) { return forwardWithHidden(x).output(); }",
        "}"), "cannot be applied to given types");
    // a factory method without its return
    assertJavacAlone(source("Factory",
        "package test;",
        "import dev.kiln.dsl.*;",
        "public class Factory {",
        "  @Model(input = {8})",
        "  public static Sequential net() {",
        "    Sequential.of(new Linear(8, 4), new ReLU());",
        "  }",
        "}"), "missing return statement");
  }

  /**
   * A name javac cannot resolve in the first round may be a class still to be generated: the
   * model's own compiled class (missing because of the mistake reported), or one another processor
   * writes. The model's message stays, and a model that reads such a class's constant is
   * generated once the class exists. A method that always throws, or loops, is no missing return.
   */
  @Test
  void namesOfClassesStillToBeGeneratedKeepTheMessages() {
    JavaFileObject f = classModel("Later",
        "@Model(input = {8})",
        "public class Later extends Module {",
        "  final Linear fc1 = new Linear(8, 16);",
        "  final Linear fc2 = new Linear(15, 4);",
        "  @Override public Tensor forward(Tensor x) { return fc2.apply(fc1.apply(x)); }",
        "  public Module compiled() { return new KilnLater(); }",
        "  Tensor notYet(Tensor x) { if (x == null) throw new IllegalArgumentException(); else throw new IllegalStateException(); }",
        "  int serve() { for (;;) { } }",
        "  int width() { return Gen.WIDTH; }",
        "}");
    Compilation c = javac().withProcessors(new ModelProcessor(), new WritesGen()).compile(f);
    assertThat(c).hadErrorContaining("fc2: Linear(in_features=15, out_features=4, bias=True) expects [N, 15], receives [N, 16]")
        .inFile(f).onLineContaining("return fc2.apply(fc1.apply(x))");
    assertEquals(1, c.errors().size(), c.errors().toString());

    JavaFileObject constant = classModel("Wide",
        "@Model(input = {8})",
        "public class Wide extends Module {",
        "  final Linear fc = new Linear(8, Gen.WIDTH);",
        "  @Override public Tensor forward(Tensor x) { return fc.apply(x); }",
        "}");
    Compilation generated = javac().withProcessors(new ModelProcessor(), new WritesGen()).compile(constant);
    assertThat(generated).succeeded();
    assertTrue(generated.generatedSourceFile("test.KilnWide").isPresent());
  }

  /** Another processor, writing class {@code test.Gen} in the first round. */
  private static final class WritesGen extends javax.annotation.processing.AbstractProcessor {
    private boolean done;

    @Override
    public Set<String> getSupportedAnnotationTypes() {
      return Set.of("*");
    }

    @Override
    public javax.lang.model.SourceVersion getSupportedSourceVersion() {
      return javax.lang.model.SourceVersion.latestSupported();
    }

    @Override
    public boolean process(Set<? extends javax.lang.model.element.TypeElement> annotations,
        javax.annotation.processing.RoundEnvironment round) {
      if (!done) {
        done = true;
        try (var w = processingEnv.getFiler().createSourceFile("test.Gen").openWriter()) {
          w.write("package test; public class Gen { public static final int WIDTH = 16; }");
        } catch (IOException e) {
          throw new java.io.UncheckedIOException(e);
        }
      }
      return false;
    }
  }

  /** A local declared first and assigned by a later statement is read as an assignment. */
  @Test
  void aLocalDeclaredThenAssignedCompiles() {
    JavaFileObject f = classModel("Later",
        "@Model(input = {8})",
        "public class Later extends Module {",
        "  final Linear fc = new Linear(8, 4);",
        "  @Override public Tensor forward(Tensor x) {",
        "    Tensor h;",
        "    h = relu(fc.apply(x));",
        "    return h;",
        "  }",
        "}");
    Compilation c = compile(f);
    assertThat(c).succeededWithoutWarnings();
    assertTrue(c.generatedSourceFile("test.KilnLater").isPresent());
  }

  /** forward may read a component of the outputs record as a field (the record is nested, so javac allows it). */
  @Test
  void forwardMayReadAnOutputAsAField() throws IOException {
    JavaFileObject f = classModel("FieldOut",
        "@Model(input = {8})",
        "public class FieldOut extends Module {",
        "  final Linear fc1 = new Linear(8, 4);",
        "  final Linear fc2 = new Linear(4, 2);",
        "  record Outputs(Tensor output, Tensor hidden) {}",
        "  public Outputs forwardWithHidden(Tensor x) {",
        "    Tensor hidden = relu(fc1.apply(x));",
        "    return new Outputs(fc2.apply(hidden), hidden);",
        "  }",
        "  @Override public Tensor forward(Tensor x) { return forwardWithHidden(x).hidden; }",
        "}");
    Compilation c = compile(f);
    assertThat(c).succeededWithoutWarnings();
    String generated = c.generatedSourceFile("test.KilnFieldOut").orElseThrow().getCharContent(false).toString();
    assertTrue(generated.contains("// forwardWithHidden(x).hidden(): only that output is kept"), generated);
  }

  /** {@code f} fails with {@code message}, and every error is one javac gives without the processor. */
  private static void assertJavacAlone(JavaFileObject f, String message) {
    Compilation c = compile(f);
    assertThat(c).failed();
    assertThat(c).hadErrorContaining(message);
    Set<String> javacAlone = javac().withOptions("-proc:none").compile(f).errors().stream()
        .map(d -> d.getLineNumber() + ": " + d.getMessage(null)).collect(Collectors.toSet());
    for (var d : c.errors()) {
      assertTrue(javacAlone.contains(d.getLineNumber() + ": " + d.getMessage(null)),
          "not javac's: line " + d.getLineNumber() + ": " + d.getMessage(null) + "\n" + f.toUri());
    }
  }

  @Test
  void finalForwardUnsupportedFunctionsAndLayersMadeInForwardAreNamed() {
    JavaFileObject f = classModel("Misc",
        "@Model(input = {16})",
        "public class Misc extends Module {",
        "  final Linear fc = new Linear(16, 16);",
        "  @Override public final Tensor forward(Tensor x) {",
        "    Tensor h = F.dropout(fc.apply(x), 0.5, x.size(0) > 1);", // (a constant or isTraining() compiles)
        "    return new Linear(16, 4).apply(h);",
        "  }",
        "}");
    Compilation c = compile(f);
    assertThat(c).hadErrorContaining("forward of @Model class Misc must not be final: the generated KilnMisc overrides it")
        .inFile(f).onLineContaining("public final Tensor forward");
    assertThat(c).hadErrorContaining("F.dropout with 3 argument(s) is not supported by the Kiln compiler")
        .inFile(f).onLineContaining("F.dropout(fc.apply(x), 0.5, x.size(0) > 1)");
    assertThat(c).hadErrorContaining("pass the mode (F.dropout(x, p, isTraining())), or use a Dropout field (new Dropout(p)), which"
        + " follows train() and eval()");
    assertThat(c).hadErrorContaining("forward creates a layer (new Linear(16, 4)) on each call: declare it as a final field")
        .inFile(f).onLineContaining("return new Linear(16, 4)");
  }

  /**
   * Ids built in forward (GPT-2's positions) are read by an Embedding only, as constants of one row, each a row of its
   * table; their rows are added to a value of the batch: every other use is an error on its line naming what compiles.
   */
  @Test
  void idsBuiltInForwardAreLookedUpAndAddedOnly() {
    String[][] cases = {
      {"Range", "Tensor x = fc.apply(ids).add(wpe.apply(Tensor.labels(java.util.stream.IntStream.range(0, 9).toArray())));",
          "wpe.apply(Tensor.labels(java.util.stream.IntStream.range(0, 9).toArray())): id 8 at 8 of"
              + " Tensor.labels(java.util.stream.IntStream.range(0, 9).toArray()) is out of range for 8 embeddings (0..7)"},
      {"AsValue", "Tensor x = fc.apply(ids).add(pos);",
          "fc.apply(ids).add(pos): pos holds ids built in forward (Tensor.labels(0, 1, 2, 3, 4, 5)), which only an Embedding"
              + " reads in a compiled model: look them up (wpe.apply(pos)) and read the rows"},
      {"Rows", "Tensor x = fc.apply(wpe.apply(pos));",
          "fc: wpe.apply(pos) is the rows of ids built in forward, eager mode's [6, 4], which a compiled model adds to a value"
              + " of the batch, [N, 6, 4], as GPT-2 adds"},
      {"Wide", "Tensor x = fc.apply(ids).add(wpe.apply(pos.view(2, 3)));",
          "wpe.apply(pos.view(2, 3)): pos.view(2, 3) is [2, 3], of more than one row"},
      {"Unknown", "Tensor x = fc.apply(ids).add(wpe.apply(Tensor.labels(ids.size(0))));",
          "wpe.apply(Tensor.labels(ids.size(0))): ids.size(0) is not a constant"},
    };
    for (String[] t : cases) {
      JavaFileObject f = classModel(t[0],
          "@Model(input = {6, 4})",
          "public class " + t[0] + " extends Module {",
          "  final Embedding wpe = new Embedding(8, 4);",
          "  final Linear fc = new Linear(4, 4);",
          "  @Override public Tensor forward(Tensor ids) {",
          "    Tensor pos = Tensor.labels(0, 1, 2, 3, 4, 5);",
          "    " + t[1],
          "    return flatten(x);",
          "  }",
          "}");
      Compilation c = compile(f);
      assertThat(c).hadErrorContaining(t[2]).inFile(f).onLineContaining(t[1]);
      assertEquals(1, c.errors().size(), t[0] + ": " + c.errors());
    }
  }

  /**
   * A compiled EmbeddingBag reads each sample's ids as one bag, PyTorch's 2-D input: offsets, a float value or ids of
   * more than one dimension per sample are errors on their lines.
   */
  @Test
  void anEmbeddingBagTakesRowsOfIds() {
    String[][] cases = {
      {"Offsets", "{5}", "Tensor x = bag.forward(ids, Tensor.labels(0, 2));",
          "bag.forward(ids, Tensor.labels(0, 2)): a compiled EmbeddingBag takes each sample's ids as one bag, the rows of ids"
              + " [N, L] (bag.apply(ids), PyTorch's 2-D input)"},
      {"Floats", "{5}", "Tensor x = bag.apply(fc.apply(ids));",
          "bag: an Embedding takes the model's input, token or category ids"},
      {"Grid", "{2, 5}", "Tensor x = bag.apply(ids);",
          "bag: EmbeddingBag(10, 5, mode=sum) takes bags as rows [B, N] (or 1-D indices with their offsets: forward(input, offsets)),"
              + " got [N, 2, 5]"},
    };
    for (String[] t : cases) {
      JavaFileObject f = classModel(t[0],
          "@Model(input = " + t[1] + ")",
          "public class " + t[0] + " extends Module {",
          "  final EmbeddingBag bag = new EmbeddingBag(10, 5, EmbeddingBag.Mode.SUM);",
          "  final Linear fc = new Linear(5, 5);",
          "  @Override public Tensor forward(Tensor ids) {",
          "    " + t[2],
          "    return x;",
          "  }",
          "}");
      Compilation c = compile(f);
      assertThat(c).hadErrorContaining(t[3]).inFile(f).onLineContaining(t[2]);
      assertEquals(1, c.errors().size(), t[0] + ": " + c.errors());
    }
  }

  /**
   * An Embedding reads token ids, the model's input: applied to a float value it is an error on its
   * call, and so is another step reading ids as floats; a padding index that is no row is an error
   * on the declaration, with the eager layer's words.
   */
  @Test
  void anEmbeddingTakesTheInputIdsOnly() {
    JavaFileObject late = classModel("Late",
        "@Model(input = {6})",
        "public class Late extends Module {",
        "  final Linear fc = new Linear(6, 6);",
        "  final Embedding tok = new Embedding(10, 4);",
        "  @Override public Tensor forward(Tensor x) {",
        "    Tensor h = fc.apply(x);",
        "    return flatten(tok.apply(h));",
        "  }",
        "}");
    Compilation c = compile(late);
    assertThat(c).hadErrorContaining("tok: an Embedding takes the model's input, token or category ids (a label tensor,"
        + " Tensor.labels(...)), but receives [N, 6] from fc.apply(x), a float value; apply the Embedding to the input (x) first")
        .inFile(late).onLineContaining("return flatten(tok.apply(h));");
    assertEquals(1, c.errors().size(), c.errors().toString());

    JavaFileObject twice = classModel("Twice",
        "@Model(input = {6})",
        "public class Twice extends Module {",
        "  final Embedding tok = new Embedding(10, 4);",
        "  final Linear fc = new Linear(6, 24);",
        "  @Override public Tensor forward(Tensor ids) {",
        "    Tensor e = flatten(tok.apply(ids));",
        "    Tensor f = fc.apply(ids);",
        "    return add(e, f);",
        "  }",
        "}");
    c = compile(twice);
    assertThat(c).hadErrorContaining("fc: the input ids is ids (tok looks them up), which only Embeddings read in a compiled"
        + " model; read the embedded rows instead").inFile(twice).onLineContaining("Tensor f = fc.apply(ids);");
    assertEquals(1, c.errors().size(), c.errors().toString());

    JavaFileObject padding = classModel("Padding",
        "@Model(input = {6})",
        "public class Padding extends Module {",
        "  final Embedding tok = new Embedding(10, 4, 10);",
        "  @Override public Tensor forward(Tensor ids) { return flatten(tok.apply(ids)); }",
        "}");
    c = compile(padding);
    assertThat(c).hadErrorContaining("Embedding(10, 4): padding_idx 10 is not a row (0..9, or -10..-1 from the end)")
        .inFile(padding).onLineContaining("new Embedding(10, 4, 10)");

    JavaFileObject sequential = source("Layers",
        "package test;",
        "import dev.kiln.dsl.*;",
        "public class Layers {",
        "  @Model(input = {6})",
        "  public static Sequential net() {",
        "    return Sequential.of(",
        "        new Linear(6, 6),",
        "        new Embedding(10, 4));",
        "  }",
        "}");
    c = compile(sequential);
    assertThat(c).hadErrorContaining("1: an Embedding takes the model's input").inFile(sequential)
        .onLineContaining("new Embedding(10, 4)");
  }

  @Test
  void aValueComputedButNotReturnedIsReportedOnItsLine() {
    JavaFileObject f = classModel("Early",
        "@Model(input = {16})",
        "public class Early extends Module {",
        "  final Linear fc1 = new Linear(16, 1 << 3);", // shifts fold too
        "  final Linear fc2 = new Linear(8, 2);",
        "  @Override public Tensor forward(Tensor x) {",
        "    Tensor h = relu(fc1.apply(x));",
        "    Tensor out = fc2.apply(h);",
        "    return h;",
        "  }",
        "}");
    Compilation c = compile(f);
    assertThat(c).hadErrorContaining("the value of fc2.apply(h) is never used: forward returns relu(fc1.apply(x)); use the "
        + "value or drop the step").inFile(f).onLineContaining("Tensor out = fc2.apply(h);");
    assertEquals(1, c.errors().size(), c.errors().toString());
  }

  /**
   * Two valid constructs javac rejects once a processor has had it attribute their class (javac's
   * bugs): a note beside each says so, before javac's error; a record with no constructor of its own
   * or a delegating one, and a named local class, get none and compile.
   */
  @Test
  void constructsJavacRejectsAfterAttributionGetANote() {
    JavaFileObject bad = classModel("Quirks",
        "@Model(input = {4})",
        "public class Quirks extends Module {",
        "  record Size(int n) {",
        "    Size {",
        "      if (n < 0) throw new IllegalArgumentException();",
        "    }",
        "  }",
        "  final Linear fc = new Linear(4, 2);",
        "  void helper() {",
        "    var o = new Object() { int k = 1; };",
        "    System.out.println(o.k);",
        "  }",
        "  @Override public Tensor forward(Tensor x) { return fc.apply(x); }",
        "}");
    Compilation c = compile(bad);
    assertThat(c).hadNoteContaining("javac may reject this constructor of record Size as an \"invalid canonical constructor\": "
        + "a javac bug (JDK-8387215)").inFile(bad).onLineContaining("    Size {");
    assertThat(c).hadNoteContaining("javac may report \"cannot find symbol\" for the anonymous class held in var o")
        .inFile(bad).onLineContaining("var o = new Object()");

    JavaFileObject fine = classModel("NoQuirks",
        "@Model(input = {4})",
        "public class NoQuirks extends Module {",
        "  record Size(int n) {}",
        "  record Pair(int a, int b) {",
        "    Pair(int a) { this(a, a); }",
        "  }",
        "  final Linear fc = new Linear(4, 2);",
        "  void helper() {",
        "    class K { int k = 1; }",
        "    K o = new K();",
        "    System.out.println(o.k + new Pair(1).b() + new Size(2).n());",
        "  }",
        "  @Override public Tensor forward(Tensor x) { return fc.apply(x); }",
        "}");
    Compilation f = compile(fine);
    assertThat(f).succeededWithoutWarnings();
    assertTrue(f.notes().stream().noneMatch(n -> n.getMessage(null).contains("javac bug")), f.notes().toString());
  }

  /**
   * Graph corner cases: a layer named like the scratch gradient and extra input-gradient locals the
   * backward declares (t1, dIn1_1) still compiles; a cat whose size passes 2^31-1 and a local that is
   * neither a tensor nor a constant are errors on their lines.
   */
  @Test
  void graphCornerCases() {
    JavaFileObject names = classModel("GraphNames",
        "@Model(input = {2, 4, 4})",
        "public class GraphNames extends Module {",
        "  final Conv2d t1 = new Conv2d(2, 2, 3).padding(1);",
        "  final Linear dIn1_1 = new Linear(32, 2);",
        "  @Override public Tensor forward(Tensor x) {",
        "    return dIn1_1.apply(flatten(add(t1.apply(x), x)));",
        "  }",
        "}");
    assertThat(compile(names)).succeededWithoutWarnings();

    JavaFileObject big = classModel("BigCat",
        "@Model(input = {1 << 30})",
        "public class BigCat extends Module {",
        "  @Override public Tensor forward(Tensor x) {",
        "    return relu(Tensor.cat(java.util.List.of(x, x, x), 1));",
        "  }",
        "}");
    assertThat(compile(big)).hadErrorContaining("cat along dimension 1 gives a size of 3221225472, more than 2^31-1")
        .inFile(big).onLineContaining("Tensor.cat");

    JavaFileObject local = classModel("IntLocal",
        "@Model(input = {4})",
        "public class IntLocal extends Module {",
        "  final Linear fc = new Linear(8, 2);",
        "  @Override public Tensor forward(Tensor x) {",
        "    int dim = x.numel() - 1;",
        "    return fc.apply(Tensor.cat(java.util.List.of(x, x), dim));",
        "  }",
        "}");
    assertThat(compile(local)).hadErrorContaining("dim: a local of forward is a Tensor, or a constant that layer and F arguments "
        + "may use (final int dim = ...;)").inFile(local).onLineContaining("int dim = x.numel() - 1;");
  }

  /** Tensor.cat: values listed in List.of(...) whose other dimensions agree, along a dimension after the batch. */
  @Test
  void catJoinsValuesAlongADimensionAfterTheBatch() {
    JavaFileObject f = classModel("Cats",
        "@Model(input = {2, 4, 4})",
        "public class Cats extends Module {",
        "  final Conv2d conv = new Conv2d(2, 3, 3).padding(1);",
        "  final Conv2d down = new Conv2d(2, 3, 3).stride(2).padding(1);",
        "  final Linear fc = new Linear(2 * 4 * 4, 2);",
        "  @Override public Tensor forward(Tensor x) {",
        "    Tensor a = Tensor.cat(java.util.List.of(x, down.apply(x)), 1);",
        "    Tensor b = Tensor.cat(java.util.List.of(x, x), 0);",
        "    java.util.List<Tensor> parts = java.util.List.of(x, conv.apply(x));",
        "    Tensor c = Tensor.cat(parts, 1);",
        "    return fc.apply(flatten(x));",
        "  }",
        "}");
    Compilation c = compile(f);
    assertThat(c).hadErrorContaining("Tensor.cat(java.util.List.of(x, down.apply(x)), 1): cat along dimension 1 needs the same "
        + "size in every other dimension, receives [N, 2, 4, 4], [N, 3, 2, 2], from the input x (@Model input) and down")
        .inFile(f).onLineContaining("Tensor a = ");
    assertThat(c).hadErrorContaining("a compiled cat joins values along a dimension after the batch, not dimension 0")
        .inFile(f).onLineContaining("Tensor b = ");
    assertThat(c).hadErrorContaining("Tensor.cat(parts, 1): the compiler reads Tensor.cat(List.of(a, b, ...), dim) with the values listed in "
        + "the call, or of a list local built in forward (List<Tensor> xs = new ArrayList<>(); xs.add(...)), not parts").inFile(f).onLineContaining("Tensor c = ");
  }

  /**
   * Residual connections: add joins two values of one shape, in forward and in a method of several
   * outputs (a value may feed several steps); values of two shapes and a value no step uses are
   * errors on their lines.
   */
  @Test
  void addAndMulBroadcastOneValueOverTheOtherAlongOneRun() {
    JavaFileObject f = classModel("BadBroadcasts",
        "@Model(input = {4, 6, 6})",
        "public class BadBroadcasts extends Module {",
        "  final AdaptiveAvgPool2d rows = new AdaptiveAvgPool2d(6, 1);",
        "  final AdaptiveAvgPool2d cols = new AdaptiveAvgPool2d(1, 6);",
        "  final AdaptiveAvgPool2d corner = new AdaptiveAvgPool2d(1, 1);",
        "  final Conv2d gate = new Conv2d(4, 1, 1);",
        "  final Linear fc = new Linear(4, 6);",
        "  @Override public Tensor forward(Tensor x) {",
        "    Tensor both = F.add(rows.apply(x), cols.apply(x));",
        "    Tensor apart = F.mul(x, avgPool2d(gate.apply(x), 1, 1, 0, false, true));",
        "    Tensor skips = F.mul(x, F.avgPool2d(rows.apply(gate.apply(x)), 1));",
        "    Tensor ranks = F.add(x, fc.apply(flatten(corner.apply(x))));",
        "    return F.add(F.add(both, apart), F.add(skips, ranks));",
        "  }",
        "}");
    Compilation c = compile(f);
    assertThat(c).hadErrorContaining("F.add(rows.apply(x), cols.apply(x)): add of [N, 4, 6, 1] from rows.apply(x) and"
        + " [N, 4, 1, 6] from cols.apply(x): each would stretch over the other: [N, 4, 6, 1] along dimension 3, [N, 4, 1, 6]"
        + " along dimension 2; a compiled add, sub, mul or div")
        .inFile(f).onLineContaining("Tensor both");
    assertThat(c).hadErrorContaining("[N, 1, 6, 1] stretches over dimensions 1 and 3 but not 2 between them;")
        .inFile(f).onLineContaining("Tensor skips");
    assertThat(c).hadErrorContaining("their ranks differ, and both start with the batch dimension").inFile(f)
        .onLineContaining("Tensor ranks");
    assertEquals(3, c.errors().size(), c.errors().toString()); // the [1, 6, 6] gate over x is fine
  }

  /**
   * Tensor fields: a shape the compiler cannot fold, a size that is not a constant, a view of the wrong
   * size, a field neither parameter nor buffer, private or not final, each reported on its declaration
   * (once, though forward reads it twice); an unused tensor field (an eager cache) is no error.
   */
  @Test
  void tensorFieldsTheCompilerCannotReadAreReportedOnTheirDeclarations() {
    JavaFileObject f = classModel("BadFields",
        "@Model(input = {6, 8})",
        "public class BadFields extends Module {",
        "  int size = 6;",
        "  final Linear fc = new Linear(8, 8);",
        "  final Tensor table = registerParameter(\"table\", makeTable());",
        "  final Tensor sized = registerParameter(\"sized\", Tensor.zeros(1, size, 8).requiresGrad(true));",
        "  final Tensor viewed = registerBuffer(\"viewed\", Tensor.ones(6, 6).view(1, 5, 6));",
        "  final Tensor plain = Tensor.zeros(1, 6, 8);",
        "  private final Tensor hidden = registerParameter(\"hidden\", Tensor.zeros(6, 8).requiresGrad(true));",
        "  Tensor loose = registerParameter(\"loose\", Tensor.zeros(6, 8).requiresGrad(true));",
        "  Tensor cache;",
        "  static Tensor makeTable() { return Tensor.zeros(1, 6, 8).requiresGrad(true); }",
        "  @Override public Tensor forward(Tensor x) {",
        "    Tensor a = x.add(table).add(table);",
        "    Tensor b = x.add(sized);",
        "    Tensor c = x.maskedFill(viewed, 0f);",
        "    Tensor d = x.add(plain);",
        "    Tensor e = x.add(hidden).add(loose);",
        "    return fc.apply(a.add(b).add(c).add(d).add(e));",
        "  }",
        "}");
    Compilation c = compile(f);
    assertThat(c).hadErrorContaining(Message.TENSOR_SHAPE_UNKNOWN.format("table", "makeTable()", "table", "table"))
        .inFile(f).onLineContaining("final Tensor table");
    assertThat(c).hadErrorContaining(Message.NON_CONSTANT_ARGUMENT.format("sized", "size", "zeros"))
        .inFile(f).onLineContaining("final Tensor sized");
    assertThat(c).hadErrorContaining(Message.TENSOR_BAD_SIZES.format("viewed", "view of [6, 6] cannot take [1, 5, 6] for 36 values"))
        .inFile(f).onLineContaining("final Tensor viewed");
    assertThat(c).hadErrorContaining(Message.TENSOR_UNREGISTERED.format("plain", "plain", "plain"))
        .inFile(f).onLineContaining("final Tensor plain");
    assertThat(c).hadErrorContaining(Message.PRIVATE_TENSOR.format("hidden")).inFile(f).onLineContaining("Tensor hidden");
    assertThat(c).hadErrorContaining(Message.NON_FINAL_TENSOR.format("loose")).inFile(f).onLineContaining("Tensor loose");
    assertEquals(6, c.errors().size(), c.errors().toString());
  }

  /**
   * Using tensor fields: a position table of another shape than the value's sample, a mask that does not
   * fit the scores, a field fed to another step, each on its line.
   */
  @Test
  void tensorFieldsOfTheWrongShapeOrUseAreReportedOnTheirLines() {
    JavaFileObject f = classModel("BadUses",
        "@Model(input = {6, 8})",
        "public class BadUses extends Module {",
        "  final Linear fc = new Linear(8, 8);",
        "  final Tensor pos = registerParameter(\"pos\", Tensor.zeros(1, 7, 8).requiresGrad(true));",
        "  final Tensor scale = registerParameter(\"scale\", Tensor.ones(6, 8).requiresGrad(true));",
        "  final Tensor mask = registerBuffer(\"mask\", Tensor.ones(5, 5).tril());",
        "  @Override public Tensor forward(Tensor x) {",
        "    Tensor a = x.add(pos);",
        "    Tensor s = x.matmul(x.transpose(1, 2));",
        "    Tensor b = s.maskedFill(mask.eq(0), Float.NEGATIVE_INFINITY);",
        "    Tensor g = relu(scale);",
        "    return fc.apply(a.add(g)).add(b.matmul(x));",
        "  }",
        "}");
    Compilation c = compile(f);
    assertThat(c).hadErrorContaining(Message.FIELD_ADD_SHAPES.format("x.add(pos)", "add", "[N, 6, 8]", "the input x (@Model input)",
            "the parameter pos [1, 7, 8]", "[6, 8]"))
        .inFile(f).onLineContaining("Tensor a =");
    assertThat(c).hadErrorContaining("s.maskedFill(mask.eq(0), Float.NEGATIVE_INFINITY): the mask mask [5, 5] does not repeat"
            + " over [N, 6, 6]: a compiled masked fill takes a mask whose sizes after any leading 1s are the value's last ones"
            + " ([6, 6]), repeated over its leading dimensions and the batch, from x.matmul(x.transpose(1, 2))")
        .inFile(f).onLineContaining("Tensor b =");
    assertThat(c).hadErrorContaining(Message.TENSOR_MISUSE.format("relu(scale)", "scale", "the parameter scale [6, 8]"))
        .inFile(f).onLineContaining("Tensor g =");
    assertEquals(3, c.errors().size(), c.errors().toString());
  }

  /**
   * A masked fill's value that is not a constant, a mask that is a parameter, a buffer held in a local as it is (the
   * mask must be a buffer, as it is or compared with a constant), each on its line; a mask held in a local compiles.
   */
  @Test
  void masksAndFillValuesTheCompilerCannotReadAreReportedOnTheirLines() {
    JavaFileObject f = classModel("BadMasks",
        "@Model(input = {6, 6})",
        "public class BadMasks extends Module {",
        "  float fill = -1e9f;",
        "  final Linear fc = new Linear(6, 6);",
        "  final Tensor scale = registerParameter(\"scale\", Tensor.ones(6, 6).requiresGrad(true));",
        "  final Tensor causal = registerBuffer(\"causal\", Tensor.ones(6, 6).tril());",
        "  @Override public Tensor forward(Tensor x) {",
        "    Tensor c = x.maskedFill(causal.eq(0), fill);",
        "    Tensor d = x.maskedFill(scale.eq(0), 0f);",
        "    Tensor m = causal.eq(0);",
        "    Tensor e = maskedFill(x, m, 0f);",
        "    Tensor alias = causal;",
        "    Tensor g = x.maskedFill(alias, 0f);",
        "    return fc.apply(c.add(d).add(e).add(g));",
        "  }",
        "}");
    Compilation c = compile(f);
    assertThat(c).hadErrorContaining(Message.NON_CONSTANT_ARGUMENT.format("x.maskedFill(causal.eq(0), fill)", "fill", "maskedFill"))
        .inFile(f).onLineContaining("Tensor c =");
    assertThat(c).hadErrorContaining(Message.MASK_NOT_BUFFER.format("x.maskedFill(scale.eq(0), 0.0F)", "the parameter scale [6, 6]"))
        .inFile(f).onLineContaining("Tensor d =");
    assertThat(c).hadErrorContaining(Message.MASK_NOT_BUFFER.format("x.maskedFill(alias, 0.0F)", "alias"))
        .inFile(f).onLineContaining("Tensor g =");
    assertEquals(3, c.errors().size(), c.errors().toString());
  }

  /** An unused tensor field, even one the compiler could not read, is no error: forward does not read it. */
  @Test
  void unusedTensorFieldsAreNoError() {
    JavaFileObject f = classModel("Cached",
        "@Model(input = {4})",
        "public class Cached extends Module {",
        "  final Linear fc = new Linear(4, 2);",
        "  Tensor cache;",
        "  final Tensor made = Tensor.ones(4).mul(fc.weight().sum());",
        "  @Override public Tensor forward(Tensor x) {",
        "    return fc.apply(x);",
        "  }",
        "}");
    assertThat(compile(f)).succeededWithoutWarnings();
  }

  @Test
  void anUnsupportedLayerWithBuilderCallsIsNamedAsSuch() {
    JavaFileObject f = classModel("Scaled",
        "@Model(input = {4, 7, 7})",
        "public class Scaled extends Module {",
        "  static class Scale extends Module {",
        "    float factor = 1;",
        "    Scale by(float f) { factor = f; return this; }",
        "    @Override public Tensor forward(Tensor x) { return x.mul(factor); }",
        "  }",
        "  final Scale up = new Scale().by(2);",
        "  @Override public Tensor forward(Tensor x) { return up.apply(x); }",
        "}");
    Compilation c = compile(f);
    assertThat(c).hadErrorContaining("up: layer type Scale is not supported by the Kiln compiler; supported:")
        .inFile(f).onLineContaining("new Scale()");
    assertThat(c).hadErrorContaining("leave out @Model and the model runs eagerly, as written, with every layer");
    assertEquals(1, c.errors().size(), c.errors().toString());
  }

  /** A transposed convolution's output padding at or above its stride is an error on its declaration (javac places it at the chain's last call), whichever order the builder calls come in. */
  @Test
  void outputPaddingNotBelowTheStrideIsReportedAtTheDeclaration() {
    JavaFileObject f = classModel("BadDecoder",
        "@Model(input = {4, 7, 7})",
        "public class BadDecoder extends Module {",
        "  final ConvTranspose2d fine = new ConvTranspose2d(4, 4, 3).outputPadding(1).stride(2);",
        "  final ConvTranspose2d up = new ConvTranspose2d(4, 2, 3)",
        "      .stride(2)",
        "      .outputPadding(2);",
        "  @Override public Tensor forward(Tensor x) { return up.apply(fine.apply(x)); }",
        "}");
    Compilation c = compile(f);
    assertThat(c).hadErrorContaining("up: ConvTranspose2d(4, 2, kernel_size=(3, 3), stride=(2, 2), output_padding=(2, 2)): "
        + "output padding (2, 2) must be smaller than either the stride (2, 2) or the dilation (1, 1)").inFile(f)
        .onLineContaining(".outputPadding(2)");
    assertEquals(1, c.errors().size(), c.errors().toString());
  }

  /**
   * A transposed convolution's groups that do not divide its channels, and an output padding of at least both the stride
   * and the dilation (PyTorch's rule), are errors on their declarations; a
   * grouped, dilated one's output size reaches the next layer's check.
   */
  @Test
  void groupedTransposedConvolutionsAreCheckedAtTheirDeclarations() {
    JavaFileObject f = classModel("BadGroupedDecoder",
        "@Model(input = {4, 5, 5})",
        "public class BadGroupedDecoder extends Module {",
        "  final ConvTranspose2d odd = new ConvTranspose2d(4, 6, 3).groups(4);",
        "  final ConvTranspose2d wide = new ConvTranspose2d(4, 4, 3).dilation(3).outputPadding(3);",
        "  @Override public Tensor forward(Tensor x) { return wide.apply(odd.apply(x)); }",
        "}");
    Compilation c = compile(f);
    assertThat(c).hadErrorContaining("odd: ConvTranspose2d(4, 6): out_channels 6 must be divisible by groups 4").inFile(f)
        .onLineContaining("final ConvTranspose2d odd");
    assertThat(c).hadErrorContaining("wide: ConvTranspose2d(4, 4, kernel_size=(3, 3), stride=(1, 1), dilation=(3, 3),"
        + " output_padding=(3, 3)): output padding (3, 3) must be smaller than either the stride (1, 1) or the dilation (3, 3)")
        .inFile(f).onLineContaining("final ConvTranspose2d wide");
    assertEquals(2, c.errors().size(), c.errors().toString());
    JavaFileObject g = classModel("ShortGroupedDecoder",
        "@Model(input = {4, 5, 5})",
        "public class ShortGroupedDecoder extends Module {",
        "  final ConvTranspose2d up = new ConvTranspose2d(4, 6, 3).stride(2).dilation(2).groups(2);",
        "  final Linear fc = new Linear(6 * 12 * 12, 3);",
        "  @Override public Tensor forward(Tensor x) {",
        "    return fc.apply(flatten(up.apply(x)));",
        "  }",
        "}");
    c = compile(g);
    // (5 - 1) 2 + 2 (3 - 1) + 1 = 13: [N, 6 * 13 * 13] for fc's 864 inputs
    assertThat(c).hadErrorContaining("1014").inFile(g).onLineContaining("return fc.apply");
    assertEquals(1, c.errors().size(), c.errors().toString());
  }

  @Test
  void reshapeKeepsTheBatchFirstAndEverySamplesValues() {
    JavaFileObject f = classModel("BadReshapes",
        "@Model(input = {4, 6, 6})",
        "public class BadReshapes extends Module {",
        "  final Linear fc = new Linear(4, 4);",
        "  @Override public Tensor forward(Tensor x) {",
        "    Tensor s = fc.apply(flatten(adaptiveAvgPool2d(x, 1)));",
        "    Tensor a = reshape(s, 4, -1);",
        "    Tensor b = reshape(s, -1, 8, 1, 1);",
        "    Tensor c = reshape(s, -1, -1);",
        "    Tensor d = reshape(s, -1);",
        "    return F.add(F.add(a, b), F.add(c, d));",
        "  }",
        "}");
    Compilation c = compile(f);
    assertThat(c).hadErrorContaining("reshape(s, 4, -1): reshape(4, -1) cannot take [N, 4]: a compiled model keeps dimension 0"
        + " as the batch, so the shape starts with -1 (reshape(x, -1, ...))").inFile(f).onLineContaining("Tensor a");
    assertThat(c).hadErrorContaining("reshape(-1, 8, 1, 1) cannot take [N, 4]: 4 values per sample, not 8").inFile(f)
        .onLineContaining("Tensor b");
    assertThat(c).hadErrorContaining("the sizes after the batch's -1 must be written out, got -1").inFile(f)
        .onLineContaining("Tensor c");
    assertThat(c).hadErrorContaining("reshape(-1) cannot take [N, 4]: it would merge the batch into one dimension;"
        + " flatten(x) keeps the batch ([N, values per sample])").inFile(f).onLineContaining("Tensor d");
    assertEquals(4, c.errors().size(), c.errors().toString());

    JavaFileObject view = classModel("ViewMethod",
        "@Model(input = {4})",
        "public class ViewMethod extends Module {",
        "  @Override public Tensor forward(Tensor x) {",
        "    return x.view(-1, 4, 1, 1);",
        "  }",
        "}");
    assertThat(compile(view)).succeededWithoutWarnings(); // the Tensor method is read as F.reshape(x, -1, 4, 1, 1)
  }

  @Test
  void addJoinsValuesOfOneShapeInForward() {
    JavaFileObject f = classModel("Branches",
        "@Model(input = {8})",
        "public class Branches extends Module {",
        "  final Linear fc1 = new Linear(8, 8);",
        "  final Linear fc2 = new Linear(8, 4);",
        "  final Linear fc3 = new Linear(8, 4);",
        "  @Override public Tensor forward(Tensor x) {",
        "    Tensor h = relu(fc1.apply(x));",
        "    Tensor skip = fc3.apply(h);",
        "    Tensor wide = F.add(fc2.apply(h), x);",
        "    return F.add(fc2.apply(x), fc2.apply(h));",
        "  }",
        "}");
    Compilation c = compile(f);
    assertThat(c).hadErrorContaining("F.add(fc2.apply(h), x): add of [N, 4] from fc2.apply(h) and [N, 8] from the input x "
        + "(@Model input): sizes 4 and 8 at dimension 1 differ and neither is 1; a compiled add, sub, mul or div takes two values"
        + " of one shape, or repeats one over the other along a run of adjacent dimensions, as PyTorch broadcasts a [N, C, 1, 1] scale "
        + "over [N, C, H, W]")
        .inFile(f).onLineContaining("Tensor wide = F.add(fc2.apply(h), x);");
    assertThat(c).hadErrorContaining("the value of fc3.apply(h) is never used").inFile(f).onLineContaining("Tensor skip");
    assertEquals(2, c.errors().size(), c.errors().toString()); // the unused sum of two shapes is not reported twice

    JavaFileObject outputs = classModel("HiddenSum",
        "@Model(input = {8})",
        "public class HiddenSum extends Module {",
        "  final Linear fc1 = new Linear(8, 8);",
        "  final Linear fc2 = new Linear(8, 2);",
        "  public Tensor[] both(Tensor x) {",
        "    Tensor h = F.add(fc1.apply(x), x);",
        "    return new Tensor[] {h, fc2.apply(h)};",
        "  }",
        "  @Override public Tensor forward(Tensor x) {",
        "    return both(x)[1];",
        "  }",
        "}");
    assertThat(compile(outputs)).succeededWithoutWarnings(); // a method of several outputs may join values too

    // and branch: two heads on one value
    JavaFileObject branch = classModel("Branch",
        "@Model(input = {8})",
        "public class Branch extends Module {",
        "  final Linear fc1 = new Linear(8, 4);",
        "  final Linear fc2 = new Linear(8, 2);",
        "  public Tensor[] both(Tensor x) {",
        "    Tensor h = fc1.apply(x);",
        "    Tensor g = fc2.apply(x);",
        "    return new Tensor[] {g, h};",
        "  }",
        "  @Override public Tensor forward(Tensor x) {",
        "    return both(x)[0];",
        "  }",
        "}");
    assertThat(compile(branch)).succeededWithoutWarnings();

    // the Tensor method form of a residual is read as the F functions, receiver first: relu(add(h, x))
    JavaFileObject method = classModel("MethodAdd",
        "@Model(input = {8})",
        "public class MethodAdd extends Module {",
        "  final Linear fc1 = new Linear(8, 8);",
        "  @Override public Tensor forward(Tensor x) {",
        "    Tensor h = fc1.apply(x);",
        "    return h.add(x).relu();",
        "  }",
        "}");
    assertThat(compile(method)).succeededWithoutWarnings();
  }

  /**
   * Attention's products and transposes: operands whose matrices do not fit, of other ranks or
   * batch sizes, a transpose of the batch or of a dimension out of range, a permutation moving the
   * batch and a scale that is not a constant, each an error on its own line naming the shapes.
   */
  @Test
  void badProductsTransposesAndScalesAreReportedOnTheirLines() {
    JavaFileObject f = classModel("BadAttention",
        "@Model(input = {6, 8})",
        "public class BadAttention extends Module {",
        "  final Linear q = new Linear(8, 8);",
        "  final Linear k = new Linear(8, 4);",
        "  final Linear head = new Linear(48, 3);",
        "  double temperature = 2;",
        "  @Override public Tensor forward(Tensor x) {",
        "    Tensor a = matmul(q.apply(x), k.apply(x));",
        "    Tensor b = q.apply(x).matmul(flatten(x));",
        "    Tensor c = transpose(q.apply(x), 0, 1);",
        "    Tensor d = q.apply(x).transpose(1, 3);",
        "    Tensor e = permute(q.apply(x), 1, 0, 2);",
        "    Tensor g = div(q.apply(x), temperature);",
        "    Tensor h = matmul(reshape(x, -1, 2, 3, 8), reshape(x, -1, 3, 8, 2));",
        "    return head.apply(flatten(x));",
        "  }",
        "}");
    Compilation c = compile(f);
    assertThat(c).hadErrorContaining("matmul(q.apply(x), k.apply(x)): matmul of [N, 6, 8] from q.apply(x) and [N, 6, 4] from"
        + " k.apply(x): it contracts dimension 2 of the left (size 8) with dimension 1 of the right (size 6), which differ;"
        + " transpose an operand (k.transpose(-2, -1)) where its matrices are the other way round")
        .inFile(f).onLineContaining("Tensor a =");
    assertThat(c).hadErrorContaining("q.apply(x).matmul(flatten(x)): matmul of [N, 6, 8] from q.apply(x) and [N, 48] from"
        + " flatten(x): their ranks differ (3 and 2)").inFile(f).onLineContaining("Tensor b =");
    assertThat(c).hadErrorContaining("transpose(q.apply(x), 0, 1): transpose(0, 1) cannot take [N, 6, 8]: a compiled model"
        + " keeps dimension 0 as the batch; transpose two dimensions after it").inFile(f).onLineContaining("Tensor c =");
    assertThat(c).hadErrorContaining("q.apply(x).transpose(1, 3): transpose(1, 3) cannot take [N, 6, 8]: dimension 3 is out of"
        + " range for 3 dimensions (-3..2)").inFile(f).onLineContaining("Tensor d =");
    assertThat(c).hadErrorContaining("permute(q.apply(x), 1, 0, 2): permute(1, 0, 2) cannot take [N, 6, 8]: a compiled model"
        + " keeps dimension 0 as the batch, so the order starts with 0").inFile(f).onLineContaining("Tensor e =");
    assertThat(c).hadErrorContaining("div(q.apply(x), temperature): argument 'temperature' of div is not a compile-time"
        + " constant").inFile(f).onLineContaining("Tensor g =");
    assertThat(c).hadErrorContaining("matmul of [N, 2, 3, 8] from reshape(x, -1, 2, 3, 8) and [N, 3, 8, 2] from"
        + " reshape(x, -1, 3, 8, 2): batch dimension 1 has size 2 on the left and 3 on the right; a compiled matmul does not"
        + " broadcast them").inFile(f).onLineContaining("Tensor h =");
    assertEquals(7, c.errors().size(), c.errors().toString()); // (the unused values are not reported on top)
  }

  /**
   * {@code split} and {@code chunk} in a compiled forward: the batch, a dimension out of range, a split size below 1
   * and lengths that do not add up (PyTorch's words, on the split's line, once for all its pieces), a piece out of
   * range, an index that is not a constant or is negative, the pieces used otherwise than {@code qkv[i]} (passed on,
   * iterated, measured) and assigned again, each an error on its own line.
   */
  @Test
  void badSplitsAreReportedOnTheirLines() {
    JavaFileObject f = classModel("BadSplits",
        "@Model(input = {6, 8})",
        "public class BadSplits extends Module {",
        "  final Linear fc = new Linear(8, 3);",
        "  int which = 1;",
        "  @Override public Tensor forward(Tensor x) {",
        "    Tensor a = x.split(2, 0)[0];",
        "    Tensor b = x.chunk(2, 3)[1];",
        "    Tensor c = x.split(0, 1)[0];",
        "    Tensor[] lengths = x.split(new int[] {4, 1}, 1);",
        "    Tensor e = lengths[0].add(lengths[1]);",
        "    Tensor[] qkv = x.split(2, 1);",
        "    Tensor g = qkv[3];",
        "    Tensor h = qkv[which];",
        "    Tensor k = qkv[-1];",
        "    Tensor m = Tensor.cat(java.util.List.of(qkv), 1);",
        "    for (Tensor t : qkv) { }",
        "    final int count = qkv.length;",
        "    qkv = x.split(3, 1);",
        "    qkv[0] = x;",
        "    return fc.apply(qkv[0].sum(1));",
        "  }",
        "}");
    Compilation c = compile(f);
    assertThat(c).hadErrorContaining("x.split(2, 0): dimension 0 of [N, 6, 8] is the batch, which a compiled forward keeps;"
        + " split a dimension after it, from the input x (@Model input)").inFile(f).onLineContaining("Tensor a =");
    assertThat(c).hadErrorContaining("x.chunk(2, 3): Dimension out of range (expected to be in range of [-3, 2], but got 3) for"
        + " [N, 6, 8]").inFile(f).onLineContaining("Tensor b =");
    assertThat(c).hadErrorContaining("x.split(0, 1): split_size can only be 0 if dimension size is 0")
        .inFile(f).onLineContaining("Tensor c =");
    assertThat(c).hadErrorContaining("split_with_sizes expects split_sizes to sum exactly to 6 (input tensor's size at dimension 1"
        + " of [N, 6, 8]), but got split_sizes=[4, 1]").inFile(f).onLineContaining("Tensor[] lengths =");
    assertThat(c).hadErrorContaining("x.split(2, 1)[3]: split(2, 1) of [N, 6, 8] makes 3 pieces [2, 2, 2], so it has no piece 3"
        + " (0..2)").inFile(f).onLineContaining("Tensor g =");
    assertThat(c).hadErrorContaining(Message.PIECE_INDEX.format("qkv[which]", "which")).inFile(f).onLineContaining("Tensor h =");
    assertThat(c).hadErrorContaining(Message.PIECE_INDEX.format("qkv[-1]", "-1")).inFile(f).onLineContaining("Tensor k =");
    String misuse = Message.PIECES_MISUSE.format("qkv", "x.split(2, 1)", "forward", "qkv", "qkv", "");
    assertThat(c).hadErrorContaining(misuse + "method invocation 'java.util.List.of(qkv)'").inFile(f).onLineContaining("Tensor m =");
    assertThat(c).hadErrorContaining(misuse + "enhanced for loop").inFile(f).onLineContaining("for (Tensor t");
    assertThat(c).hadErrorContaining(misuse + "member select 'qkv.length'").inFile(f).onLineContaining("qkv.length");
    assertThat(c).hadErrorContaining(Message.PIECES_REASSIGNED.format("qkv", "x.split(2, 1)", "forward", "qkv = x.split(3, 1)"))
        .inFile(f).onLineContaining("qkv = x.split(3, 1);");
    assertThat(c).hadErrorContaining(Message.PIECES_REASSIGNED.format("qkv", "x.split(2, 1)", "forward", "qkv[0] = x"))
        .inFile(f).onLineContaining("qkv[0] = x;");
    assertEquals(12, c.errors().size(), c.errors().toString()); // (the split of lengths reported once for its two pieces)
  }

  /**
   * GELU's approximate argument: a string other than "none" or "tanh" (as a layer's or F.gelu's), one that is not a
   * constant, or not a string, each an error on its own line naming it.
   */
  @Test
  void badGeluApproximationsAreReportedOnTheirLines() {
    JavaFileObject f = classModel("BadGelu",
        "@Model(input = {6})",
        "public class BadGelu extends Module {",
        "  String mode = \"tanh\";",
        "  final GELU erf = new GELU(\"erf\");",
        "  final Linear fc = new Linear(6, 3);",
        "  @Override public Tensor forward(Tensor x) {",
        "    Tensor a = erf.apply(x);",
        "    Tensor b = gelu(x, \"Tanh\");",
        "    Tensor c = gelu(x, mode);",
        "    return fc.apply(a.add(b).add(c));",
        "  }",
        "}");
    Compilation c = compile(f);
    assertThat(c).hadErrorContaining("erf: gelu: approximate argument must be either none or tanh, not 'erf'")
        .inFile(f).onLineContaining("final GELU erf");
    assertThat(c).hadErrorContaining("gelu: approximate argument must be either none or tanh, not 'Tanh'")
        .inFile(f).onLineContaining("Tensor b =");
    assertThat(c).hadErrorContaining("argument 'mode'").inFile(f).onLineContaining("Tensor c =");
    assertEquals(3, c.errors().size(), c.errors().toString());
  }

  /**
   * Recurrent layers in a compiled forward: an input of another size or rank, a layer that reads the time first
   * (the batch would be its time), initial states ({@code forwardWithState(x, h0, c0)}), a select or narrow of the batch or
   * out of range, and layer arguments the layer refuses, each an error on its own line saying what to write.
   */
  @Test
  void badRecurrentLayersAreReportedOnTheirLines() {
    JavaFileObject f = classModel("BadRecurrent",
        "@Model(input = {6, 8})",
        "public class BadRecurrent extends Module {",
        "  final LSTM small = new LSTM(4, 16).batchFirst(true);",
        "  final GRU timeFirst = new GRU(8, 5);",
        "  final LSTM lstm = new LSTM(8, 16).batchFirst(true);",
        "  final RNN rnn = new RNN(8, 5).batchFirst(true);",
        "  final LSTM flat = new LSTM(48, 16).batchFirst(true);",
        "  final RNN sigmoid = new RNN(8, 5, \"sigmoid\");",
        "  final LSTM certain = new LSTM(8, 16).numLayers(2).dropout(1.5);",
        "  final Linear fc = new Linear(5, 3);",
        "  @Override public Tensor forward(Tensor x) {",
        "    Tensor a = small.apply(x);",
        "    Tensor b = timeFirst.apply(x);",
        "    Tensor c = lstm.forwardWithState(x, x, x).output();",
        "    Tensor d = rnn.apply(x).select(0, -1);",
        "    Tensor e = rnn.apply(x).select(1, 6);",
        "    Tensor g = narrow(rnn.apply(x), 1, 4, 3);",
        "    Tensor h = flat.apply(flatten(x));",
        "    return fc.apply(rnn.apply(x).select(1, -1));",
        "  }",
        "}");
    Compilation c = compile(f);
    assertThat(c).hadErrorContaining("small: LSTM(4, 16, batch_first=True) expects [N, S, 4] (a batch of sequences, batch"
        + " first), receives [N, 6, 8], from the input x (@Model input)").inFile(f).onLineContaining("Tensor a =");
    assertThat(c).hadErrorContaining("timeFirst: GRU(8, 5) reads its input time first ([S, N, 8], PyTorch's default), but a"
        + " compiled model's dimension 0 is the batch ([N, 6, 8]): build it with .batchFirst(true), as nn.GRU(...,"
        + " batch_first=True), from the input x (@Model input)").inFile(f).onLineContaining("Tensor b =");
    assertThat(c).hadErrorContaining(String.format("lstm.forwardWithState(x, x, x): x is not an initial state a compiled forward reads: zeros (Tensor.zeros(num_layers * D,"
        + " x.size(0), hidden_size), as PyTorch's tutorials write h0 and c0, or none: %s.forwardWithState(x)), another"
        + " run's last states whole (enc.h(), enc.c()), or a value [N, H] as PyTorch's [1, N, H] (h.unsqueeze(0),"
        + " h.view(1, -1, H)) or [N, L * H] as [L, N, H] (f.view(-1, L, H).transpose(0, 1)), element-wise tanh, relu or"
        + " sigmoid of those; leave out @Model to pass others eagerly", "lstm"))
        .inFile(f).onLineContaining("Tensor c =");
    assertThat(c).hadErrorContaining("rnn.apply(x).select(0, -1): select(0, -1) cannot take [N, 6, 5]: dimension 0 is the"
        + " batch, which a compiled forward keeps; select a dimension after it, from rnn.apply(x)")
        .inFile(f).onLineContaining("Tensor d =");
    assertThat(c).hadErrorContaining("rnn.apply(x).select(1, 6): select(1, 6): index 6 is out of range for dimension 1 of"
        + " [N, 6, 5] (-6..5), from rnn.apply(x)").inFile(f).onLineContaining("Tensor e =");
    assertThat(c).hadErrorContaining("narrow(rnn.apply(x), 1, 4, 3): narrow(1, 4, 3): start (4) + length (3) exceeds the size"
        + " (6) of dimension 1 of [N, 6, 5], from rnn.apply(x)").inFile(f).onLineContaining("Tensor g =");
    assertThat(c).hadErrorContaining("flat: LSTM(48, 16, batch_first=True) expects [N, S, 48] (a batch of sequences, batch"
        + " first), receives [N, 48], from flatten(x)").inFile(f).onLineContaining("Tensor h =");
    assertThat(c).hadErrorContaining("sigmoid: RNN: unknown nonlinearity 'sigmoid' (tanh or relu)")
        .inFile(f).onLineContaining("final RNN sigmoid");
    assertThat(c).hadErrorContaining("certain: LSTM(8, 16): dropout must be a probability in [0, 1], got 1.5")
        .inFile(f).onLineContaining("final LSTM certain");
    assertEquals(10, c.errors().size(), c.errors().toString()); // (h0 and c0 each)
  }

  /**
   * The forms of a recurrent layer's last states that compile: a local of the record's type by any name ({@code
   * LSTM.Output}, declared then assigned), {@code this.lstm}, parentheses, the output and a state in one expression
   * each (the layer running once per call, as eagerly).
   */
  @Test
  void lastStatesCompileInEveryForm() throws IOException {
    JavaFileObject f = classModel("StateForms",
        "@Model(input = {6, 8})",
        "public class StateForms extends Module {",
        "  final LSTM lstm = new LSTM(8, 4).batchFirst(true);",
        "  final Linear fc = new Linear(4, 3);",
        "  @Override public Tensor forward(Tensor x) {",
        "    LSTM.Output o;",
        "    o = this.lstm.forwardWithState(x);",
        "    Tensor last = (lstm.forwardWithState(x)).output().select(1, -1);",
        "    return fc.apply(last.add(o.h().select(0, 0)).add((o).c().select(0, -1)));",
        "  }",
        "}");
    Compilation c = compile(f);
    assertThat(c).succeededWithoutWarnings();
    String generated = c.generatedSourceFile("test.KilnStateForms").orElseThrow().getCharContent(false).toString();
    assertEquals(2, generated.split("new RecurrentStack\\(").length - 1, "one run per call: " + generated);
  }

  /**
   * A recurrent layer's last states in a compiled forward are read one state at a time, {@code o.h().select(0, i)}:
   * h_n whole (into a layer, a function, a narrow), a select of its dimension 1 (the batch) or out of range, a GRU's
   * cell state, initial states and a layer that reads the time first are each an error on its own line.
   */
  @Test
  void badLastStatesAreReportedOnTheirLines() {
    JavaFileObject f = classModel("BadStates",
        "@Model(input = {6, 8})",
        "public class BadStates extends Module {",
        "  final LSTM lstm = new LSTM(8, 4).batchFirst(true);",
        "  final GRU gru = new GRU(8, 4).numLayers(2).bidirectional(true).batchFirst(true);",
        "  final LSTM timeFirst = new LSTM(8, 4);",
        "  final Linear fc = new Linear(4, 3);",
        "  @Override public Tensor forward(Tensor x) {",
        "    var o = lstm.forwardWithState(x);",
        "    Recurrent.Output g = gru.forwardWithState(x);",
        "    Tensor a = fc.apply(o.h());",
        "    Tensor b = o.h().select(1, 0);",
        "    Tensor d = o.c().select(0, 1);",
        "    Tensor e = g.c().select(0, -1);",
        "    Tensor h = relu(g.h());",
        "    Tensor i = g.h().narrow(0, 2, 2);",
        "    Tensor j = select(g.h(), 0, -5);",
        "    Tensor k = lstm.forwardWithState(x, x, x).h().select(0, -1);",
        "    Tensor m = timeFirst.forwardWithState(x).h().select(0, -1);",
        "    return fc.apply(o.h().select(0, -1));",
        "  }",
        "}");
    Compilation c = compile(f);
    String whole = "a compiled forward reads a recurrent layer's h_n one state at a time, as %1$s.select(0, i), [N, H]"
        + " (PyTorch's h_n[i]; select(0, -1) the last layer's, Tensor.cat(List.of(%1$s.select(0, -2), %1$s.select(0, -1)), 1)"
        + " a bidirectional last layer's two directions): h_n is [num_layers * D, N, H], the batch in its dimension 1, where"
        + " every compiled value holds it in dimension 0";
    assertThat(c).hadErrorContaining("o.h(): " + String.format(whole, "o.h()")).inFile(f).onLineContaining("Tensor a =");
    assertThat(c).hadErrorContaining("o.h().select(1, 0): " + String.format(whole, "o.h()")).inFile(f).onLineContaining("Tensor b =");
    assertThat(c).hadErrorContaining("o.c().select(0, 1): index 1 is out of range for c_n of lstm: LSTM(8, 4, batch_first=True),"
        + " whose first dimension, num_layers * D, is 1 (index -1..0)").inFile(f).onLineContaining("Tensor d =");
    assertThat(c).hadErrorContaining("g.c(): gru is GRU(8, 4, num_layers=2, batch_first=True, bidirectional=True), which has no"
        + " cell state: c() is LSTM's c_n; read h(), h_n").inFile(f).onLineContaining("Tensor e =");
    assertThat(c).hadErrorContaining("g.h(): " + String.format(whole, "g.h()")).inFile(f).onLineContaining("Tensor h =");
    assertThat(c).hadErrorContaining("g.h(): " + String.format(whole, "g.h()")).inFile(f).onLineContaining("Tensor i =");
    assertThat(c).hadErrorContaining("select(g.h(), 0, -5): index -5 is out of range for h_n of gru: GRU(8, 4, num_layers=2,"
        + " batch_first=True, bidirectional=True), whose first dimension, num_layers * D, is 4 (index -4..3)")
        .inFile(f).onLineContaining("Tensor j =");
    assertThat(c).hadErrorContaining("lstm.forwardWithState(x, x, x): x is not an initial state a compiled forward reads")
        .inFile(f).onLineContaining("Tensor k =");
    assertThat(c).hadErrorContaining("timeFirst: LSTM(8, 4) reads its input time first ([S, N, 8], PyTorch's default), but a"
        + " compiled model's dimension 0 is the batch ([N, 6, 8]): build it with .batchFirst(true)").inFile(f)
        .onLineContaining("Tensor m =");
    assertEquals(10, c.errors().size(), c.errors().toString()); // (h0 and c0 each)
  }

  /**
   * The tutorials' zero initial states in every form that compiles: locals or inline, {@code Tensor.zeros(x.device(),
   * ...)} and {@code .to(x.device())}, the batch as {@code x.size(0)}, {@code x.shape()[0]}, an {@code int} local
   * ({@code final} or not) or the size of a local value, the other sizes constants, {@code static final} fields or
   * folded arithmetic, and null (eager mode's zeros); each layer runs once, as without the states.
   */
  @Test
  void zeroInitialStatesCompileInEveryForm() throws IOException {
    JavaFileObject f = classModel("ZeroForms",
        "@Model(input = {6, 8})",
        "public class ZeroForms extends Module {",
        "  static final int H = 4;",
        "  final LSTM lstm = new LSTM(8, H).numLayers(2).batchFirst(true);",
        "  final GRU gru = new GRU(4, 4).bidirectional(true).batchFirst(true);",
        "  final RNN rnn = new RNN(8, 4).batchFirst(true);",
        "  final Linear fc = new Linear(4, 3);",
        "  @Override public Tensor forward(Tensor x) {",
        "    final int n = x.size(0);",
        "    int m = x.shape()[0];",
        "    Tensor h0 = Tensor.zeros(x.device(), 2, n, H);",
        "    Tensor c0;",
        "    c0 = (Tensor.zeros(1 + 1, m, H).to(x.device()));",
        "    Tensor a = lstm.forwardWithState(x, h0, c0).output();",
        "    Tensor b = gru.forwardWithState(a, Tensor.zeros(2, a.size(0), 4)).h().select(0, -1);",
        "    Tensor r = rnn.forwardWithState(x, null).h().select(0, 0);",
        "    return fc.apply(b.add(r));",
        "  }",
        "}");
    Compilation c = compile(f);
    assertThat(c).succeededWithoutWarnings();
    String generated = c.generatedSourceFile("test.KilnZeroForms").orElseThrow().getCharContent(false).toString();
    assertEquals(3, generated.split("new RecurrentStack\\(").length - 1, "one run per call: " + generated);
  }

  /**
   * Initial states other than the layer's own zeros are each an error on their line: a wrong layer count or hidden size
   * (naming the expected and the given shape, as PyTorch's "Expected hidden size"), a constant batch size (a compiled
   * model's batch varies: x.size(0)), a size of another dimension (a constant too: x.size(1)), ones, a parameter, and zeros used as a value.
   */
  @Test
  void badInitialStatesAreReportedOnTheirLines() {
    JavaFileObject f = classModel("BadZeros",
        "@Model(input = {6, 8})",
        "public class BadZeros extends Module {",
        "  final LSTM lstm = new LSTM(8, 4).numLayers(2).batchFirst(true);",
        "  final GRU gru = new GRU(8, 4).batchFirst(true);",
        "  final Tensor start = Tensor.zeros(1, 1, 4);",
        "  final Linear fc = new Linear(8, 3);",
        "  @Override public Tensor forward(Tensor x) {",
        "    Tensor h0 = Tensor.zeros(1, x.size(0), 4);",
        "    Tensor c0 = Tensor.zeros(2, x.size(0), 4);",
        "    Tensor a = lstm.forwardWithState(x, h0, c0).output();",
        "    Tensor b = gru.forwardWithState(x, Tensor.zeros(1, x.size(0), 5)).output();",
        "    Tensor d = gru.forwardWithState(x, Tensor.zeros(1, 32, 4)).output();",
        "    Tensor e = gru.forwardWithState(x, Tensor.zeros(1, x.size(1), 4)).output();",
        "    Tensor g = gru.forwardWithState(x, Tensor.ones(1, x.size(0), 4)).output();",
        "    Tensor k = gru.forwardWithState(x, start).output();",
        "    Tensor m = c0.add(1);",
        "    return fc.apply(x.select(1, -1));",
        "  }",
        "}");
    Compilation c = compile(f);
    assertThat(c).hadErrorContaining("lstm.forwardWithState(x, h0, c0): expected h0 of shape (2, N, 4) (num_layers * D, N,"
        + " hidden_size) for lstm: LSTM(8, 4, num_layers=2, batch_first=True), got (1, N, 4) from h0 = Tensor.zeros(1, x.size(0),"
        + " 4) (PyTorch's \"Expected hidden size (2, N, 4), got (1, N, 4)\")").inFile(f).onLineContaining("Tensor a =");
    assertThat(c).hadErrorContaining("gru.forwardWithState(x, Tensor.zeros(1, x.size(0), 5)): expected h0 of shape (1, N, 4)"
        + " (num_layers * D, N, hidden_size) for gru: GRU(8, 4, batch_first=True), got (1, N, 5) from Tensor.zeros(1, x.size(0),"
        + " 5)").inFile(f).onLineContaining("Tensor b =");
    assertThat(c).hadErrorContaining("gru.forwardWithState(x, Tensor.zeros(1, 32, 4)): the batch size of h0 is a constant,"
        + " 32, but a compiled model's batch varies: write x.size(0), Tensor.zeros(1, x.size(0), 4)")
        .inFile(f).onLineContaining("Tensor d =");
    assertThat(c).hadErrorContaining("gru.forwardWithState(x, Tensor.zeros(1, x.size(1), 4)): the batch size of h0 is a constant, 6,"
        + " but a compiled model's batch varies: write x.size(0)").inFile(f)
        .onLineContaining("Tensor e =");
    String notZeros = "%s is not an initial state a compiled forward reads: zeros (Tensor.zeros(num_layers * D,"
        + " x.size(0), hidden_size), as PyTorch's tutorials write h0 and c0, or none: %s.forwardWithState(x)), another"
        + " run's last states whole (enc.h(), enc.c()), or a value [N, H] as PyTorch's [1, N, H] (h.unsqueeze(0),"
        + " h.view(1, -1, H)) or [N, L * H] as [L, N, H] (f.view(-1, L, H).transpose(0, 1)), element-wise tanh, relu or"
        + " sigmoid of those; leave out @Model to pass others eagerly";
    assertThat(c).hadErrorContaining(String.format(notZeros, "Tensor.ones(1, x.size(0), 4)", "gru")).inFile(f)
        .onLineContaining("Tensor g =");
    assertThat(c).hadErrorContaining(String.format(notZeros, "start", "gru")).inFile(f).onLineContaining("Tensor k =");
    assertThat(c).hadErrorContaining("c0 holds zeros (Tensor.zeros(2, x.size(0), 4)), which a compiled forward reads only as a"
        + " recurrent layer's initial states (lstm.forwardWithState(x, h0, c0)) or a cell's states (cell.step(x, h, c)); leave out @Model to compute with them")
        .inFile(f).onLineContaining("Tensor m =");
    assertEquals(7, c.errors().size(), c.errors().toString());
  }

  /**
   * Initial states other than zeros that do not fit the layer, each an error on its line with PyTorch's shapes: another
   * run's h_n of another number of layers, a projection of another hidden size, a view of a constant batch (in a
   * local: its line), a view that would mix the batch, a GRU's c(), an unsqueezed value of rank 3, and a value that is
   * no state.
   */
  @Test
  void badComputedInitialStatesAreReportedOnTheirLines() {
    JavaFileObject f = classModel("BadStates",
        "@Model(input = {6, 8})",
        "public class BadStates extends Module {",
        "  final GRU enc = new GRU(8, 4).numLayers(2).batchFirst(true);",
        "  final GRU one = new GRU(8, 4).batchFirst(true);",
        "  final GRU wide = new GRU(8, 5).batchFirst(true);",
        "  final LSTM lstm = new LSTM(8, 4).batchFirst(true);",
        "  final Linear proj = new Linear(8, 4);",
        "  final Linear fc = new Linear(8, 3);",
        "  @Override public Tensor forward(Tensor x) {",
        "    var e = enc.forwardWithState(x);",
        "    Tensor f = x.select(1, -1);",
        "    Tensor a = one.forwardWithState(x, e.h()).output();",
        "    Tensor b = wide.forwardWithState(x, proj.apply(f).unsqueeze(0)).output();",
        "    Tensor h0 = proj.apply(f).view(1, 32, 4);",
        "    Tensor d = one.forwardWithState(x, h0).output();",
        "    Tensor g = one.forwardWithState(x, f.view(1, -1, 4)).output();",
        "    Tensor k = lstm.forwardWithState(x, e.h(), e.c()).output();",
        "    Tensor m = one.forwardWithState(x, x.unsqueeze(0).tanh()).output();",
        "    Tensor p = one.forwardWithState(x, f.add(1)).output();",
        "    Tensor q = enc.forwardWithState(x, proj.apply(f).view(-1, 1, 4).transpose(0, 1)).output();",
        "    Tensor r = enc.forwardWithState(x, proj.apply(f).view(32, 2, 2).transpose(0, 1)).output();",
        "    Tensor s = enc.forwardWithState(x, proj.apply(f).view(-1, 2, 2).transpose(0, 2)).output();",
        "    Tensor t = enc.forwardWithState(x, proj.apply(f).view(-1, 2, 2).transpose(1, 0)).output();",
        "    Tensor u = lstm.forwardWithState(x, proj.apply(f).unsqueeze(0), Tensor.zeros(2, x.size(0), 4)).output();",
        "    return fc.apply(f);",
        "  }",
        "}");
    Compilation c = compile(f);
    String shape = "%s: expected h0 of shape %s (num_layers * D, N, hidden_size) for %s, got %s from %s (PyTorch's \"Expected"
        + " hidden size %s, got %s\")";
    assertThat(c).hadErrorContaining(String.format(shape, "one.forwardWithState(x, e.h())", "(1, N, 4)",
        "one: GRU(8, 4, batch_first=True)", "(2, N, 4)", "e.h()", "(1, N, 4)", "(2, N, 4)")).inFile(f).onLineContaining("Tensor a =");
    assertThat(c).hadErrorContaining(String.format(shape, "wide.forwardWithState(x, proj.apply(f).unsqueeze(0))", "(1, N, 5)",
        "wide: GRU(8, 5, batch_first=True)", "(1, N, 4)", "proj.apply(f).unsqueeze(0)", "(1, N, 5)", "(1, N, 4)"))
        .inFile(f).onLineContaining("Tensor b =");
    assertThat(c).hadErrorContaining("one.forwardWithState(x, h0): the batch size of h0 is a constant, 32, but a compiled"
        + " model's batch varies: write x.size(0), Tensor.zeros(1, x.size(0), 4)").inFile(f).onLineContaining("Tensor h0 =");
    assertThat(c).hadErrorContaining("got (1, N * 8 / 4, 4) from f.view(1, -1, 4)").inFile(f).onLineContaining("Tensor g =");
    assertThat(c).hadErrorContaining("e.c(): enc is GRU(8, 4, num_layers=2, batch_first=True), which has no cell state")
        .inFile(f).onLineContaining("Tensor k =");
    assertThat(c).hadErrorContaining("got (1, N, 6, 8) from x.unsqueeze(0).tanh()").inFile(f).onLineContaining("Tensor m =");
    assertThat(c).hadErrorContaining("one.forwardWithState(x, f.add(1)): f.add(1) is not an initial state a compiled forward"
        + " reads").inFile(f).onLineContaining("Tensor p =");
    assertThat(c).hadErrorContaining("lstm.forwardWithState(x, e.h(), e.c()): expected h0 of shape (1, N, 4)").inFile(f)
        .onLineContaining("Tensor k =");
    assertThat(c).hadErrorContaining(String.format(shape, "enc.forwardWithState(x, proj.apply(f).view(-1, 1, 4).transpose(0, 1))",
        "(2, N, 4)", "enc: GRU(8, 4, num_layers=2, batch_first=True)", "(1, N, 4)", "proj.apply(f).view(-1, 1, 4).transpose(0, 1)",
        "(2, N, 4)", "(1, N, 4)")).inFile(f).onLineContaining("Tensor q =");
    assertThat(c).hadErrorContaining("the batch size of h0 is a constant, 32, but a compiled model's batch varies")
        .inFile(f).onLineContaining("Tensor r =");
    assertThat(c).hadErrorContaining("proj.apply(f).view(-1, 2, 2).transpose(0, 2) is not an initial state a compiled forward"
        + " reads").inFile(f).onLineContaining("Tensor s =");
    assertThat(c).hadErrorContaining("got (2, N, 2) from proj.apply(f).view(-1, 2, 2).transpose(1, 0)").inFile(f)
        .onLineContaining("Tensor t =");
    assertThat(c).hadErrorContaining("lstm.forwardWithState(x, proj.apply(f).unsqueeze(0), Tensor.zeros(2, x.size(0), 4)): expected"
        + " c0 of shape (1, N, 4) (num_layers * D, N, hidden_size) for lstm: LSTM(8, 4, batch_first=True), got (2, N, 4) from"
        + " Tensor.zeros(2, x.size(0), 4)").inFile(f).onLineContaining("Tensor u =");
    assertEquals(13, c.errors().size(), c.errors().toString()); // (the LSTM's h0 and c0 each)
  }

  /** An LSTM given h0 alone, PyTorch's {@code lstm(x, h0)} where it wants {@code (h0, c0)}: javac's error, on the line. */
  @Test
  void anLstmGivenOneStateIsReportedOnItsLine() {
    JavaFileObject f = classModel("OneState",
        "@Model(input = {6, 8})",
        "public class OneState extends Module {",
        "  final LSTM enc = new LSTM(8, 4).batchFirst(true);",
        "  final LSTM dec = new LSTM(8, 4).batchFirst(true);",
        "  @Override public Tensor forward(Tensor x) {",
        "    var e = enc.forwardWithState(x);",
        "    return dec.forwardWithState(x, e.h()).output().select(1, -1);",
        "  }",
        "}");
    Compilation c = compile(f);
    assertThat(c).hadErrorContaining("forwardWithState").inFile(f).onLineContaining("return dec.forwardWithState");
  }

  /**
   * Sums and means over several dimensions at once: the batch among them, one out of range, one
   * repeated (as written or counted from the end) and none at all, each an error on its own line.
   */
  @Test
  void badReductionsOverSeveralDimensionsAreReportedOnTheirLines() {
    JavaFileObject f = classModel("BadDimensionLists",
        "@Model(input = {3, 6, 8})",
        "public class BadDimensionLists extends Module {",
        "  final Linear fc = new Linear(8, 4);",
        "  @Override public Tensor forward(Tensor x) {",
        "    Tensor a = x.mean(new int[] {2, 0});",
        "    Tensor b = x.sum(new int[] {1, 4}, true);",
        "    Tensor c = mean(x, new int[] {2, -2});",
        "    Tensor d = x.sum(new int[] {3, 3});",
        "    Tensor e = x.mean(new int[] {});",
        "    return fc.apply(x.mean(new int[] {1, 2}));",
        "  }",
        "}");
    Compilation c = compile(f);
    assertThat(c).hadErrorContaining("mean(new int[] {2, 0}) cannot take [N, 3, 6, 8]: dimension 0 is the batch, which a"
        + " compiled forward keeps; reduce a dimension after it, or reduce the model's output outside forward")
        .inFile(f).onLineContaining("Tensor a =");
    assertThat(c).hadErrorContaining("sum(new int[] {1, 4}, true) cannot take [N, 3, 6, 8]: dimension 4 is out of range for 4"
        + " dimensions (-4..3)").inFile(f).onLineContaining("Tensor b =");
    assertThat(c).hadErrorContaining("mean(new int[] {2, -2}) cannot take [N, 3, 6, 8]: dimension -2 repeats dimension 2"
        + " (each dimension is reduced once)").inFile(f).onLineContaining("Tensor c =");
    assertThat(c).hadErrorContaining("sum(new int[] {3, 3}) cannot take [N, 3, 6, 8]: dimension 3 is given twice (each"
        + " dimension is reduced once)").inFile(f).onLineContaining("Tensor d =");
    assertThat(c).hadErrorContaining("mean(new int[] {}) cannot take [N, 3, 6, 8]: no dimensions means every dimension in"
        + " PyTorch, the batch among them, which a compiled forward keeps").inFile(f).onLineContaining("Tensor e =");
    assertEquals(5, c.errors().size(), c.errors().toString());
  }

  /**
   * Sums and means over every value or over the batch (a compiled forward keeps the batch), along a dimension out
   * of range, a sub of values that do not broadcast, a division by a tensor field of another shape and a mean of a
   * tensor field, each an error on its own line naming the shapes.
   */
  @Test
  void badReductionsSubsAndDivsAreReportedOnTheirLines() {
    JavaFileObject f = classModel("BadReductions",
        "@Model(input = {6, 8})",
        "public class BadReductions extends Module {",
        "  final Linear fc = new Linear(8, 4);",
        "  final Tensor scale = registerParameter(\"scale\", Tensor.ones(1, 7, 8).requiresGrad(true));",
        "  @Override public Tensor forward(Tensor x) {",
        "    Tensor a = fc.apply(x).sum();",
        "    Tensor b = x.mean(0);",
        "    Tensor c = mean(x, 3, true);",
        "    Tensor d = sub(fc.apply(x), x);",
        "    Tensor e = x.div(scale);",
        "    Tensor g = scale.mean(1);",
        "    return fc.apply(x.mean(1));",
        "  }",
        "}");
    Compilation c = compile(f);
    assertThat(c).hadErrorContaining(Message.WHOLE_REDUCTION.format("fc.apply(x).sum()", "sum()", "fc.apply(x).sum(1)", "sum()"))
        .inFile(f).onLineContaining("Tensor a =");
    assertThat(c).hadErrorContaining("x.mean(0): mean(0) cannot take [N, 6, 8]: dimension 0 is the batch, which a compiled"
        + " forward keeps; reduce a dimension after it, or reduce the model's output outside forward, from the input x"
        + " (@Model input)").inFile(f).onLineContaining("Tensor b =");
    assertThat(c).hadErrorContaining("mean(x, 3, true): mean(3, true) cannot take [N, 6, 8]: dimension 3 is out of range for 3"
        + " dimensions (-3..2)").inFile(f).onLineContaining("Tensor c =");
    assertThat(c).hadErrorContaining("sub(fc.apply(x), x): sub of [N, 6, 4] from fc.apply(x) and [N, 6, 8] from the input x"
        + " (@Model input): sizes 4 and 8 at dimension 2 differ and neither is 1; a compiled add, sub, mul or div takes two"
        + " values of one shape").inFile(f).onLineContaining("Tensor d =");
    assertThat(c).hadErrorContaining(Message.FIELD_ADD_SHAPES.format("x.div(scale)", "div", "[N, 6, 8]",
            "the input x (@Model input)", "the parameter scale [1, 7, 8]", "[6, 8]"))
        .inFile(f).onLineContaining("Tensor e =");
    assertThat(c).hadErrorContaining(Message.TENSOR_MISUSE.format("scale.mean(1)", "scale", "the parameter scale [1, 7, 8]"))
        .inFile(f).onLineContaining("Tensor g =");
    assertEquals(6, c.errors().size(), c.errors().toString());
  }

  /**
   * Products by tensor fields that do not fit: a weight whose rows differ from the value's last size, a field that is
   * not a matrix, a field on the left, a product of two fields, and a bias by hand of another size than the product's
   * last, each an error on its own line naming both shapes.
   */
  @Test
  void badProductsByTensorFieldsAreReportedOnTheirLines() {
    JavaFileObject f = classModel("BadFieldProducts",
        "@Model(input = {6, 8})",
        "public class BadFieldProducts extends Module {",
        "  final Linear fc = new Linear(8, 3);",
        "  final Tensor w = registerParameter(\"w\", Tensor.randn(6, 4).requiresGrad(true));",
        "  final Tensor cube = registerBuffer(\"cube\", Tensor.randn(8, 4, 2));",
        "  final Tensor table = registerParameter(\"table\", Tensor.randn(6, 6).requiresGrad(true));",
        "  final Tensor ok = registerParameter(\"ok\", Tensor.randn(8, 4).requiresGrad(true));",
        "  final Tensor bias = registerParameter(\"bias\", Tensor.zeros(5).requiresGrad(true));",
        "  @Override public Tensor forward(Tensor x) {",
        "    Tensor a = x.matmul(w);",
        "    Tensor b = matmul(x, cube);",
        "    Tensor c = w.matmul(x);",
        "    Tensor g = cube.matmul(x);",
        "    Tensor d = ok.matmul(table);",
        "    Tensor e = x.matmul(ok).add(bias);",
        "    return fc.apply(x);",
        "  }",
        "}");
    Compilation c = compile(f);
    assertThat(c).hadErrorContaining("x.matmul(w): matmul of [N, 6, 8] from the input x (@Model input) and [6, 4] from the"
        + " parameter w: it contracts dimension 2 of the left (size 8) with dimension 0 of the right (size 6), which differ;"
        + " a weight on the right of x.matmul(w) is [in, out], the transpose of a Linear's weight [out, in]")
        .inFile(f).onLineContaining("Tensor a =");
    assertThat(c).hadErrorContaining("matmul(x, cube): matmul of [N, 6, 8] from the input x (@Model input) and [8, 4, 2] from"
        + " the buffer cube: a tensor field multiplies a value as one matrix [K, M] (x.matmul(w): [N, K] @ [K, M], [N, S, D] @"
        + " [D, T]), but this one has 3 dimensions").inFile(f).onLineContaining("Tensor b =");
    assertThat(c).hadErrorContaining("w.matmul(x): matmul of [6, 4] from the parameter w and [N, 6, 8] from the input x (@Model"
        + " input): it contracts dimension 1 of the left (size 4) with dimension 1 of the right (size 6), which differ; transpose"
        + " the value (x.transpose(-2, -1)) where its matrices are the other way round").inFile(f).onLineContaining("Tensor c =");
    assertThat(c).hadErrorContaining("cube.matmul(x): matmul of [8, 4, 2] from the buffer cube and [N, 6, 8] from the input x"
        + " (@Model input): a tensor field on the left multiplies each sample's matrices as one matrix [M, K] (w.matmul(x):"
        + " [M, K] @ [N, K, T]), but this one has 3 dimensions").inFile(f).onLineContaining("Tensor g =");
    assertThat(c).hadErrorContaining(Message.TENSOR_MISUSE.format("ok.matmul(table)", "ok", "the parameter ok [8, 4]"))
        .inFile(f).onLineContaining("Tensor d =");
    assertThat(c).hadErrorContaining(Message.FIELD_ADD_SHAPES.format("x.matmul(ok).add(bias)", "add", "[N, 6, 4]", "x.matmul(ok)",
            "the parameter bias [5]", "[6, 4]"))
        .inFile(f).onLineContaining("Tensor e =");
    assertEquals(6, c.errors().size(), c.errors().toString());
  }

  /**
   * Subtractions and divisions of two values and by constants, sums and means read from their Tensor methods and
   * F functions: a repeated value on either side runs the repeated kernels with its side, a constant shift is one
   * pass, and a mean's factor is eager's float {@code 1f / size}.
   */
  @Test
  void subsDivsAndReductionsCompileToTheirKernels() throws IOException {
    JavaFileObject f = classModel("Reductions",
        "@Model(input = {4, 3, 5})",
        "public class Reductions extends Module {",
        "  final Linear fc = new Linear(4 * 3, 2);",
        "  @Override public Tensor forward(Tensor x) {",
        "    Tensor m = x.mean(-1, true);",
        "    Tensor h = div(m.sub(x), x.mul(x).add(1f)).sub(2);",
        "    return fc.apply(flatten(sum(h.div(m.add(3)), 3, false)));",
        "  }",
        "}");
    Compilation c = compile(f);
    assertThat(c).succeededWithoutWarnings();
    String generated = c.generatedSourceFile("test.KilnReductions").orElseThrow().getCharContent(false).toString();
    for (String line : List.of(
        "MathKernels.sumAlong(p.a1, 0, in, inOff, n * 12, 5, 1, 1f / 5);",
        "ArithmeticKernels.subRepeatedForward(p.a2, 0, in, inOff, p.a1, 0, n * 12, 5, 1, true);",
        "ArithmeticKernels.shift(p.a4, 0, p.a3, 0, n * 60, 1.0f);",
        "ArithmeticKernels.divForward(p.a5, 0, p.a2, 0, p.a4, 0, n * 60);",
        "ArithmeticKernels.shift(p.a6, 0, p.a5, 0, n * 60, -2.0f);",
        "ArithmeticKernels.divRepeatedForward(p.a8, 0, p.a6, 0, p.a7, 0, n * 12, 5, 1, false);",
        "MathKernels.sumAlong(p.a9, 0, p.a8, 0, n * 12, 5, 1, 1f);",
        "ArithmeticKernels.denominatorSumBackward(dIn7_1, 0, dIn8, 0, p.a8, 0, p.a7, 0, n * 12, 5, 1, false);",
        "ArithmeticKernels.subtrahendBackward(dx, 0, dIn4, 0, n * 60, true);",
        "CpuKernels.sumRepeatedBackward(dIn1_1, 0, dIn4, 0, null, 0, null, 0, n * 12, 5, 1, true);",
        "MathKernels.spreadAlong(dx, 0, dIn1_1, 0, n * 12, 5, 1, 1f / 5, true);",
        "Tensor v2 = F.sub(v1, x);",
        "Tensor v7 = v1.add(3.0f);",
        "Tensor v9 = F.sum(v8, 3, false);")) {
      assertTrue(generated.contains(line), line + " in\n" + generated);
    }
  }

  /**
   * A product by a tensor field is one GEMM over every row of the batch: a transposed value is copied first (a
   * scale is still its alpha), and a field {@code [1, 1, 4]} subtracted after it repeats over the batch's rows.
   */
  @Test
  void aTransposedValueIsCopiedBeforeAProductByAField() throws IOException {
    Compilation c = compile(model("TransposedRows"));
    assertThat(c).succeededWithoutWarnings();
    String generated = c.generatedSourceFile("test.KilnTransposedRows").orElseThrow().getCharContent(false).toString();
    for (String line : List.of(
        "CpuKernels.permute(p.a1, 0, in, inOff, new int[] {n, 8, 6}, new int[] {0, 2, 1}, false);",
        "Blas.sgemm(false, false, n * 6, 4, 8, 0.5f, p.a1, 0, 8, w, 4, 0f, p.a3, 0, 4);",
        "ArithmeticKernels.subRepeatedForward(p.a4, 0, p.a3, 0, shift.readBuffer(), shift.offset(), 1, n * 6, 4, false);",
        "Blas.sgemm(false, true, n * 6, 8, 4, 0.5f, dIn3, 0, 4, w, 4, 0f, dIn2, 0, 8);",
        "Blas.sgemm(true, false, 8, 4, n * 6, 0.5f, p.a1, 0, 8, dIn3, 0, 4, 1f, field3G, 4);",
        "Tensor v3 = CudaCompiled.matmul(v1, false, w, false, 0.5f, 1, n * 6, 4, 8, n, 6, 4);")) {
      assertTrue(generated.contains(line), line + " in\n" + generated);
    }
  }

  /**
   * A scale may be a static final constant, Math.sqrt of constants, or a final local holding one;
   * a transpose or scale that is returned, or read by a step other than a matmul, is a step of its own.
   */
  @Test
  void scalesFoldAndUnfoldedTransposesCompile() throws IOException {
    Compilation c = compile(model("ProductEdges"));
    assertThat(c).succeededWithoutWarnings();
    String generated = c.generatedSourceFile("test.KilnProductEdges").orElseThrow().getCharContent(false).toString();
    // the relu reads the transpose: a copy; the scale before the first product and the division after the second are their alphas
    assertTrue(generated.contains("CpuKernels.permute(p.a2, 0, p.a1, 0, new int[] {n, 6, 8}, new int[] {0, 2, 1}, false);"),
        generated);
    assertTrue(generated.contains("Blas.sgemmBatched(n, false, false, 6, 6, 8, 0.35355338f, p.a1, 0, 48, p.a4, 0, 48, 0f, p.a5,"),
        generated);
    assertTrue(generated.contains("Blas.sgemmBatched(n, false, false, 6, 8, 6, 0.125f, p.a5, 0, 36, p.a1, 0, 48, 0f, p.a6, 0, 48);"),
        generated);
  }

  @Test
  void inheritedAliasedAndAnonymousLayersAreNamed() {
    JavaFileObject inherited = classModel("Inherits",
        "abstract class Base extends Module {",
        "  final Linear fc1 = new Linear(4, 4);",
        "}",
        "@Model(input = {4})",
        "public class Inherits extends Base {",
        "  @Override public Tensor forward(Tensor x) {",
        "    return fc1.apply(x);",
        "  }",
        "}");
    Compilation c = compile(inherited);
    assertThat(c).hadErrorContaining("'fc1' is a layer field inherited from Base: the compiler reads the layers the @Model class Inherits")
        .inFile(inherited).onLineContaining("return fc1.apply(x);");

    JavaFileObject f = classModel("Odd",
        "@Model(input = {4})",
        "public class Odd extends Module {",
        "  final Linear fc1 = new Linear(4, 4);",
        "  final Linear same = fc1;",
        "  final Linear anon = new Linear(4, 2) { };",
        "  @Override public Tensor forward(Tensor x) {",
        "    return anon.apply(same.apply(x));",
        "  }",
        "}");
    c = compile(f);
    assertThat(c).hadErrorContaining("same: the compiler reads layers from their initializers (or constructor assignments)").inFile(f)
        .onLineContaining("final Linear same = fc1;");
    assertThat(c).hadErrorContaining("anon: an anonymous subclass of Linear cannot be compiled").inFile(f)
        .onLineContaining("new Linear(4, 2) { }");
  }

  /** A bad input shape is one error, on the annotated element, without shape errors following from it. */
  @Test
  void aBadInputShapeIsOneError() {
    JavaFileObject f = classModel("NoInput",
        "@Model(input = {0, 28})",
        "public class NoInput extends Module {",
        "  final Linear fc = new Linear(28, 2);",
        "  @Override public Tensor forward(Tensor x) {",
        "    return fc.apply(x);",
        "  }",
        "}");
    Compilation c = compile(f);
    assertThat(c).hadErrorContaining("@Model(input = [0, 28]) must list one sample's dimensions, each at least 1");
    assertEquals(1, c.errors().size(), c.errors().toString());
  }

  @Test
  void allErrorsOfAModelInOneBuild() {
    JavaFileObject f = classModel("Many",
        "@Model(input = {4})",
        "public class Many extends Module {",
        "  int width = 3;",
        "  final Linear fc1 = new Linear(4, width);",
        "  final Linear fc2 = new Linear(9, 2);",
        "  @Override public Tensor forward(Tensor x) {",
        "    while (x == null) { }",
        "    return fc2.apply(x);",
        "  }",
        "}");
    Compilation c = compile(f);
    assertThat(c).hadErrorContaining("not a compile-time constant").inFile(f).onLineContaining("new Linear(4, width)");
    assertThat(c).hadErrorContaining("unsupported loop in forward: its condition x == null is not a constant at turn 1")
        .inFile(f).onLineContaining("while");
    assertThat(c).hadErrorContaining("fc2: Linear(in_features=9, out_features=2, bias=True) expects [N, 9], receives [N, 4]")
        .inFile(f).onLineContaining("return fc2.apply(x)");
  }

  @Test
  void declarationShapeErrors() {
    JavaFileObject f = classModel("Shape",
        "@Model(input = {4})",
        "public final class Shape extends Module {",
        "  private final Linear fc1 = new Linear(4, 2);",
        "  @Override public Tensor forward(Tensor x) { return fc1.apply(x); }",
        "}");
    Compilation c = compile(f);
    assertThat(c).hadErrorContaining("@Model class Shape must not be final").inFile(f).onLineContaining("public final class Shape");
    assertThat(c).hadErrorContaining("layer field fc1 must not be private").inFile(f).onLineContaining("private final Linear fc1");
  }

  /**
   * What the compiled attention layers do not take (masks of the wrong shapes, sequence first, the weights, an encoder layer
   * not written in place) is an error on its line, naming it and what to write instead.
   */
  @Test
  void attentionLayersOutsideTheCompiledFormsAreErrorsOnTheirLines() {
    JavaFileObject f = classModel("Encoder",
        "@Model(input = {6, 8})",
        "public class Encoder extends Module {",
        "  final Tensor pad = registerBuffer(\"pad\", Tensor.zeros(6));",
        "  final Tensor queries = registerParameter(\"queries\", Tensor.zeros(1, 6, 8).requiresGrad(true));",
        "  final MultiheadAttention mha = new MultiheadAttention(8, 2, 0, true, true);",
        "  final MultiheadAttention seqFirst = new MultiheadAttention(8, 2);",
        "  final TransformerEncoder encoder = new TransformerEncoder(new TransformerEncoderLayer(8, 2, 16, 0.1, \"relu\", 1e-5, true, false), 2);",
        "  final TransformerEncoderLayer block = new TransformerEncoderLayer(8, 2, 16, 0.1, \"relu\", 1e-5, true, false);",
        "  @Override public Tensor forward(Tensor x) {",
        "    Tensor a = mha.forward(x, x, x, pad, false, null).output();",
        "    Tensor b = seqFirst.apply(x);",
        "    Tensor d = mha.forward(x, x, x, null, false, null).weights();",
        "    Tensor e = block.forward(x, null, pad);",
        "    Tensor g = block.forward(x, pad, null);",
        "    Tensor h = mha.forward(queries, x, x).output();",
        "    return encoder.apply(x);",
        "  }",
        "}");
    Compilation c = compile(f);
    assertThat(c).hadErrorContaining("mha MultiheadAttention(embed_dim=8, num_heads=2, batch_first=True): key_padding_mask must be"
        + " [N, S] = [N, 6], one row of each sample (a further input, @Input({6}) Tensor pad, made float by F.attentionMask),"
        + " got [6]").inFile(f).onLineContaining("Tensor a = ");
    assertThat(c).hadErrorContaining("seqFirst MultiheadAttention(embed_dim=8, num_heads=2) is sequence first ([L, N, E]), but a"
        + " compiled forward holds the batch first").inFile(f).onLineContaining("Tensor b = ");
    assertThat(c).hadErrorContaining("needWeights is false, so eager's weights() is null; pass needWeights true").inFile(f)
        .onLineContaining("Tensor d = ");
    assertThat(c).hadErrorContaining("block.self_attn MultiheadAttention(embed_dim=8, num_heads=2, dropout=0.1, batch_first=True):"
        + " key_padding_mask must be [N, S] = [N, 6]").inFile(f).onLineContaining("Tensor e = ");
    assertThat(c).hadErrorContaining("block.self_attn MultiheadAttention(embed_dim=8, num_heads=2, dropout=0.1, batch_first=True):"
        + " attn_mask must be [L, S] = [6, 6], got [6]").inFile(f).onLineContaining("Tensor g = ");
    assertThat(c).hadErrorContaining("mha MultiheadAttention(embed_dim=8, num_heads=2, batch_first=True): query, key and value must"
        + " be values of the batch [N, ..., E], as PyTorch's batch_first layer needs them; expand a tensor field of the model (a"
        + " learned query [1, L, E]) over the batch first: attn.forward(query.expand(x.size(0), -1, -1), x, x)")
        .inFile(f).onLineContaining("Tensor h = ");

    JavaFileObject g = classModel("Sdpa",
        "@Model(input = {6, 8})",
        "public class Sdpa extends Module {",
        "  final Tensor mask = registerBuffer(\"mask\", Tensor.zeros(6, 6));",
        "  final TransformerEncoderLayer layer = new TransformerEncoderLayer(8, 2);",
        "  final TransformerEncoder encoder = new TransformerEncoder(layer, 2);",
        "  @Override public Tensor forward(Tensor x) {",
        "    return scaledDotProductAttention(x, x, x, mask, 0.0, true);",
        "  }",
        "}");
    Compilation cg = compile(g);
    assertThat(cg).hadErrorContaining("an explicit attn_mask must not be given with isCausal=true (PyTorch's rule)")
        .inFile(g).onLineContaining("return scaledDotProductAttention(");
    assertThat(cg).hadErrorContaining("encoder: TransformerEncoder's layer layer must be written in place")
        .inFile(g).onLineContaining("new TransformerEncoder(layer, 2)");
  }

  // ------------------------------------------------------------------ several outputs

  @Test
  void outputsRecordComponentThatIsNotATensor() {
    JavaFileObject f = classModel("BadRecord",
        "@Model(input = {4})",
        "public class BadRecord extends Module {",
        "  final Linear fc1 = new Linear(4, 2);",
        "  record Outputs(Tensor output,",
        "      int step) {}",
        "  Outputs withStep(Tensor x) { return new Outputs(fc1.apply(x), 1); }",
        "  @Override public Tensor forward(Tensor x) { return withStep(x).output(); }",
        "}");
    Compilation c = compile(f);
    assertThat(c).hadErrorContaining(Message.NON_TENSOR_COMPONENT.format("step", "Outputs", "int"))
        .inFile(f).onLineContaining("int step");
  }

  /** An error inside the outputs method is reported there alone, not again as forward's call of it. */
  @Test
  void anErrorInTheOutputsMethodIsNotReportedAgainInForward() {
    JavaFileObject f = classModel("Casc",
        "@Model(input = {4})",
        "public class Casc extends Module {",
        "  final Linear fc1 = new Linear(4, 8);",
        "  final Linear fc2 = new Linear(8, 2);",
        "  public record Out(Tensor out, Tensor h) {}",
        "  public Out both(Tensor x) {",
        "    Tensor h = fc1.apply(x).maskedSelect(x.gt(0f));",
        "    return new Out(fc2.apply(h), h);",
        "  }",
        "  @Override public Tensor forward(Tensor x) { return both(x).out(); }",
        "}");
    Compilation c = compile(f);
    assertThat(c).hadErrorContaining("both: Tensor.maskedSelect has no compiled form yet (fc1.apply(x).maskedSelect(").inFile(f)
        .onLineContaining(".maskedSelect(");
    assertEquals(1, c.errors().size(), c.errors().toString());
  }

  @Test
  void outputsBuiltFromAnUnknownValue() {
    JavaFileObject f = classModel("BadResult",
        "@Model(input = {4})",
        "public class BadResult extends Module {",
        "  final Linear fc1 = new Linear(4, 2);",
        "  Tensor cache;",
        "  record Outputs(Tensor output, Tensor hidden) {}",
        "  Outputs forwardWithHidden(Tensor x) {",
        "    Tensor out = fc1.apply(x);",
        "    return new Outputs(out, cache);",
        "  }",
        "  @Override public Tensor forward(Tensor x) { return forwardWithHidden(x).output(); }",
        "}");
    Compilation c = compile(f);
    assertThat(c).hadErrorContaining(Message.TENSOR_NO_INITIALIZER.format("cache", "cache", "cache", "cache"))
        .inFile(f).onLineContaining("Tensor cache;");
  }

  @Test
  void outputsReturnedOtherwiseThanAsANewRecord() {
    JavaFileObject f = classModel("BadReturn",
        "@Model(input = {4})",
        "public class BadReturn extends Module {",
        "  final Linear fc1 = new Linear(4, 2);",
        "  record Outputs(Tensor output, Tensor hidden) {",
        "    static Outputs of(Tensor a, Tensor b) { return new Outputs(a, b); }",
        "  }",
        "  Outputs forwardWithHidden(Tensor x) {",
        "    Tensor out = fc1.apply(x);",
        "    return Outputs.of(out, x);",
        "  }",
        "  @Override public Tensor forward(Tensor x) { return forwardWithHidden(x).output(); }",
        "}");
    Compilation c = compile(f);
    assertThat(c).hadErrorContaining(Message.NO_OUTPUTS_RETURN.format("forwardWithHidden", "new Outputs(output, hidden)"))
        .inFile(f).onLineContaining("return Outputs.of(out, x);");
  }

  // ------------------------------------------------------------------ a method of several inputs

  @Test
  void aFurtherInputWithoutItsShape() {
    JavaFileObject f = classModel("NoShape",
        "@Model(input = {4})",
        "public class NoShape extends Module {",
        "  final Linear fc1 = new Linear(4, 2);",
        "  public Tensor forwardPair(Tensor x,",
        "      @Input({2}) Tensor b,",
        "      Tensor c) {",
        "    return fc1.apply(x).add(b).add(c);",
        "  }",
        "  @Override public Tensor forward(Tensor x) { return fc1.apply(x); }",
        "}");
    Compilation c = compile(f);
    assertThat(c).hadErrorContaining(Message.MISSING_INPUT.format("c", "forwardPair", "c")).inFile(f).onLineContaining("Tensor c)");
    assertThat(c).hadErrorCount(1);
  }

  /** {@code @Input({})} is ids {@code [N]} an Embedding looks up; read as floats it is an error on the parameter. */
  @Test
  void aFurtherInputOfNoDimensionIsIdsOnly() {
    JavaFileObject f = classModel("Scalar",
        "@Model(input = {4})",
        "public class Scalar extends Module {",
        "  final Linear fc1 = new Linear(4, 2);",
        "  public Tensor forwardPair(Tensor x,",
        "      @Input({}) Tensor gain) {",
        "    return fc1.apply(x).mul(gain);",
        "  }",
        "  @Override public Tensor forward(Tensor x) { return fc1.apply(x); }",
        "}");
    Compilation c = compile(f);
    assertThat(c).hadErrorContaining(Message.BAD_FURTHER_INPUT_SHAPE.format("[]", "gain"))
        .inFile(f).onLineContaining("@Input({}) Tensor gain");
    assertThat(c).hadErrorCount(1);
  }

  @Test
  void aFurtherInputOfNoSizeOrTheFirstAnnotated() {
    JavaFileObject f = classModel("ZeroSize",
        "@Model(input = {4})",
        "public class ZeroSize extends Module {",
        "  final Linear fc1 = new Linear(4, 2);",
        "  public Tensor forwardPair(@Input({4}) Tensor x,",
        "      @Input({2, 0}) Tensor b,",
        "      @Input({}) Tensor c) {",
        "    return fc1.apply(x).add(b).add(c);",
        "  }",
        "  @Override public Tensor forward(Tensor x) { return fc1.apply(x); }",
        "}");
    Compilation c = compile(f);
    assertThat(c).hadErrorContaining(Message.FIRST_INPUT_ANNOTATED.format("x", "forwardPair"))
        .inFile(f).onLineContaining("@Input({4}) Tensor x");
    assertThat(c).hadErrorContaining(Message.BAD_FURTHER_INPUT_SHAPE.format("[2, 0]", "b"))
        .inFile(f).onLineContaining("@Input({2, 0}) Tensor b");
    assertThat(c).hadErrorContaining(Message.BAD_FURTHER_INPUT_SHAPE.format("[]", "c"))
        .inFile(f).onLineContaining("@Input({}) Tensor c");
    assertThat(c).hadErrorCount(3);
  }

  @Test
  void aMethodOfSeveralInputsMustBeOverridableAndReturnATensor() {
    JavaFileObject f = classModel("Hidden",
        "@Model(input = {4})",
        "public class Hidden extends Module {",
        "  final Linear fc1 = new Linear(4, 2);",
        "  private Tensor forwardPair(Tensor x, @Input({2}) Tensor b) { return fc1.apply(x).add(b); }",
        "  public Tensor[] forwardBoth(Tensor x, @Input({2}) Tensor b) { return new Tensor[] {b}; }",
        "  public Tensor forwardWith(Tensor x, @Input({2}) Tensor b, int layer) { return b; }",
        "  @Override public Tensor forward(Tensor x) { return fc1.apply(x); }",
        "}");
    Compilation c = compile(f);
    assertThat(c).hadErrorContaining(Message.BAD_INPUTS_METHOD.format("forwardPair", "forwardPair", "b"))
        .inFile(f).onLineContaining("private Tensor forwardPair");
    assertThat(c).hadErrorContaining(Message.TWO_INPUTS_METHODS.format("forwardBoth", "forwardPair"))
        .inFile(f).onLineContaining("public Tensor[] forwardBoth");
    assertThat(c).hadErrorContaining(Message.TWO_INPUTS_METHODS.format("forwardWith", "forwardPair"))
        .inFile(f).onLineContaining("public Tensor forwardWith");

    JavaFileObject g = classModel("Arrays",
        "@Model(input = {4})",
        "public class Arrays extends Module {",
        "  final Linear fc1 = new Linear(4, 2);",
        "  public float[] forwardBoth(Tensor x, @Input({2}) Tensor b, int layer) { return new float[] {layer}; }",
        "  @Override public Tensor forward(Tensor x) { return fc1.apply(x); }",
        "}");
    c = compile(g);
    assertThat(c).hadErrorContaining(Message.BAD_INPUTS_METHOD.format("forwardBoth", "forwardBoth", "b"))
        .inFile(g).onLineContaining("public float[] forwardBoth");
    assertThat(c).hadErrorContaining(Message.NON_TENSOR_INPUT.format("layer", "forwardBoth", "int"))
        .inFile(g).onLineContaining("public float[] forwardBoth");
    assertThat(c).hadErrorCount(2);
  }

  @Test
  void furtherIdsAreReadByEmbeddingsOnly() {
    JavaFileObject f = classModel("Ratings",
        "@Model(input = {1})",
        "public class Ratings extends Module {",
        "  final Embedding users = new Embedding(7, 4);",
        "  final Embedding items = new Embedding(9, 4);",
        "  final Linear fc = new Linear(4, 4);",
        "  public Tensor forwardPair(Tensor u, @Input({1}) Tensor item, @Input({4}) Tensor shift) {",
        "    Tensor v = items.apply(item).reshape(-1, 4);",
        "    Tensor w = fc.apply(v).add(item);",
        "    Tensor t = items.apply(fc.apply(shift)).reshape(-1, 16);",
        "    return users.apply(u).reshape(-1, 4).mul(w).sum(-1, true).add(t.sum(-1, true));",
        "  }",
        "  @Override public Tensor forward(Tensor u) { return users.apply(u).reshape(-1, 4); }",
        "}");
    Compilation c = compile(f);
    assertThat(c).hadErrorContaining(Message.IDS_READ_AS_FLOATS.format("fc.apply(v).add(item)", "item", "items"))
        .inFile(f).onLineContaining("fc.apply(v).add(item)");
    assertThat(c).hadErrorContaining(Message.EMBEDDING_INPUT.format("items", "[N, 4]", "fc.apply(shift)", "u or item or shift"))
        .inFile(f).onLineContaining("items.apply(fc.apply(shift))");
    assertThat(c).hadErrorCount(2);

    JavaFileObject g = classModel("Reshaped",
        "@Model(input = {4})",
        "public class Reshaped extends Module {",
        "  final Embedding items = new Embedding(9, 4);",
        "  final Linear fc = new Linear(4, 4);",
        "  public Tensor forwardPair(Tensor x, @Input({1}) Tensor item) {",
        "    Tensor v = items.apply(item.view(-1, 1)).reshape(-1, 4);",
        "    return fc.apply(x).mul(v);",
        "  }",
        "  @Override public Tensor forward(Tensor x) { return fc.apply(x); }",
        "}");
    c = compile(g);
    // (no Embedding reads item itself, so it is a float input; the Embedding says to look it up as it is)
    assertThat(c).hadErrorContaining(Message.EMBEDDING_INPUT.format("items", "[N, 1]", "item.view(-1, 1)", "x or item"))
        .inFile(g).onLineContaining("items.apply(item.view(-1, 1))");
    assertThat(c).hadErrorCount(1);
  }

  @Test
  void aFurtherInputNeverUsed() {
    JavaFileObject f = classModel("Unused",
        "@Model(input = {4})",
        "public class Unused extends Module {",
        "  final Linear fc1 = new Linear(4, 2);",
        "  public Tensor forwardMasked(Tensor x,",
        "      @Input({4}) Tensor mask) {",
        "    return fc1.apply(x);",
        "  }",
        "  @Override public Tensor forward(Tensor x) { return fc1.apply(x); }",
        "}");
    Compilation c = compile(f);
    assertThat(c).hadErrorContaining(Message.UNUSED_INPUT.format("mask", "forwardMasked"))
        .inFile(f).onLineContaining("@Input({4}) Tensor mask");
    assertThat(c).hadErrorCount(1);
  }

  @Test
  void aMaskInputThatDoesNotRepeatOverTheValue() {
    JavaFileObject f = classModel("BadMask",
        "@Model(input = {4})",
        "public class BadMask extends Module {",
        "  final Linear fc1 = new Linear(4, 3);",
        "  public Tensor forwardMasked(Tensor x, @Input({4}) Tensor mask) {",
        "    Tensor h = fc1.apply(x);",
        "    h = h.maskedFill(mask.eq(0), 0f);",
        "    return h;",
        "  }",
        "  @Override public Tensor forward(Tensor x) { return fc1.apply(x); }",
        "}");
    Compilation c = compile(f);
    assertThat(c).hadErrorContaining(Message.MASK_INPUT_SHAPE.format("h.maskedFill(mask.eq(0), 0.0F)", "[N, 4]",
        "the input mask [N, 4] (@Input)", "[N, 3]", "fc1.apply(x)", "sizes 3 and 4 at dimension 1 differ and neither is 1"))
        .inFile(f).onLineContaining("h = h.maskedFill(mask.eq(0), 0f);");
    assertThat(c).hadErrorCount(1);
  }

  /**
   * Buffers sliced in forward (nanoGPT's bias[:, :, :T, :T]) that do not compile, each on its line: a bound that is not a
   * constant, a slice out of range, a parameter sliced out of range or into runs of two widths, a sliced mask that
   * does not repeat over the value it fills.
   */
  @Test
  void buffersSlicedInForwardThatDoNotCompileAreReportedOnTheirLines() {
    JavaFileObject f = classModel("BadSlices",
        "@Model(input = {6, 6})",
        "public class BadSlices extends Module {",
        "  static final int B = 10;",
        "  int t = 6;",
        "  final Linear fc = new Linear(6, 6);",
        "  final Tensor bias = registerBuffer(\"bias\", Tensor.ones(B, B).tril().view(1, 1, B, B));",
        "  final Tensor pos = registerParameter(\"pos\", Tensor.zeros(B, 6).requiresGrad(true));",
        "  final Tensor grid = registerParameter(\"grid\", Tensor.zeros(6, 2, 8).requiresGrad(true));",
        "  @Override public Tensor forward(Tensor x) {",
        "    Tensor h = fc.apply(x);",
        "    h = h.maskedFill(bias.narrow(2, 0, t).narrow(3, 0, 6).eq(0), 0f);",
        "    h = h.add(bias.narrow(2, 8, 6).view(6, 10));",
        "    h = h.add(grid.narrow(2, 0, 6).view(8, 9).narrow(0, 0, 6).narrow(1, 0, 6));",
        "    h = h.sub(pos.narrow(0, 8, 6));",
        "    h = h.mul(bias.slice(2, 6, 6));",
        "    return h;",
        "  }",
        "}");
    Compilation c = compile(f);
    assertThat(c).hadErrorContaining(Message.BUFFER_SLICE_BOUND.format("bias.narrow(2, 0, t)", "t", "narrow"))
        .inFile(f).onLineContaining("h = h.maskedFill(bias.narrow(2, 0, t)");
    assertThat(c).hadErrorContaining(Message.BUFFER_SLICE.format("bias.narrow(2, 8, 6)", "narrow", "the buffer bias [1, 1, 10, 10]",
        "start 8 and length 6 exceed dimension 2 of size 10")).inFile(f).onLineContaining("h = h.add(bias.narrow(2, 8, 6)");
    assertThat(c).hadErrorContaining(Message.PARAMETER_SLICE.format("grid.narrow(2, 0, 6).view(8, 9).narrow(0, 0, 6).narrow(1, 0, 6)",
        "the parameter grid.narrow(2, 0, 6).reshape(8, 9).narrow(0, 0, 6).narrow(1, 0, 6) [6, 6]")).inFile(f)
        .onLineContaining("h = h.add(grid.narrow(2, 0, 6)");
    assertThat(c).hadErrorContaining(Message.BUFFER_SLICE.format("pos.narrow(0, 8, 6)", "narrow", "the parameter pos [10, 6]",
        "start 8 and length 6 exceed dimension 0 of size 10")).inFile(f).onLineContaining("h = h.sub(pos.narrow(0, 8, 6));");
    assertThat(c).hadErrorContaining(Message.BUFFER_SLICE.format("bias.slice(2, 6, 6)", "slice", "the buffer bias [1, 1, 10, 10]",
        "it leaves no entry along dimension 2, and a compiled forward's values are not empty"))
        .inFile(f).onLineContaining("h = h.mul(bias.slice(2, 6, 6));");
    assertEquals(5, c.errors().size(), c.errors().toString());
    JavaFileObject g = classModel("BadSlicedMask",
        "@Model(input = {6, 6})",
        "public class BadSlicedMask extends Module {",
        "  final Linear fc = new Linear(6, 6);",
        "  final Tensor bias = registerBuffer(\"bias\", Tensor.ones(10, 10).tril().view(1, 1, 10, 10));",
        "  @Override public Tensor forward(Tensor x) {",
        "    Tensor h = fc.apply(x);",
        "    return h.maskedFill(bias.slice(2, 0, 6).slice(3, 0, 5).eq(0), 0f);",
        "  }",
        "}");
    c = compile(g);
    assertThat(c).hadErrorContaining("the mask bias.slice(2, 0, 6).slice(3, 0, 5) [1, 1, 6, 5] does not repeat over [N, 6, 6]")
        .inFile(g).onLineContaining("return h.maskedFill(bias.slice(2, 0, 6).slice(3, 0, 5)");
    assertEquals(1, c.errors().size(), c.errors().toString());
  }

  /**
   * Masks computed in forward that do not compile, each on its line: a comparison with a value that is not a
   * constant or with a tensor, a mask of activations, a mask compared twice, a buffer's mask used as a value of a shape
   * that does not repeat over the value (its 0/1 values compile, as an input's do: x.mul(keep.unsqueeze(-1))), a mask
   * reassigned or never used, an unsqueeze before the batch.
   */
  @Test
  void masksComputedInForwardThatDoNotCompileAreReportedOnTheirLines() {
    JavaFileObject f = classModel("BadLocalMasks",
        "@Model(input = {6})",
        "public class BadLocalMasks extends Module {",
        "  static final int S = 6;",
        "  int padId = 0;",
        "  final Embedding tok = new Embedding(11, 8, 0);",
        "  final Linear fc = new Linear(8, 8);",
        "  final Tensor tril = registerBuffer(\"tril\", Tensor.ones(S, S).tril());",
        "  @Override public Tensor forward(Tensor ids) {",
        "    Tensor pad = ids.eq(padId).view(-1, 1, 1, S);",
        "    Tensor keep = ids.ne(0);",
        "    Tensor x = tok.apply(ids);",
        "    Tensor h = fc.apply(x);",
        "    Tensor both = ids.eq(x);",
        "    Tensor twice = keep.eq(0);",
        "    x = x.mul(keep.unsqueeze(-1));",
        "    Tensor causal = tril.eq(0);",
        "    x = x.add(causal);",
        "    keep = tril.eq(0);",
        "    Tensor unused = tril.eq(1);",
        "    Tensor lead = ids.eq(0).unsqueeze(0);",
        "    return fc.apply(x).mean(1);",
        "  }",
        "}");
    Compilation c = compile(f);
    assertThat(c).hadErrorContaining(Message.MASK_COMPARED_WITH.format("ids.eq(padId).view(-1, 1, 1, S)", "ids", "eq",
        "padId, which is not a compile-time constant")).inFile(f).onLineContaining("Tensor pad =");
    assertThat(c).hadErrorContaining(Message.MASK_UNUSED.format("both", "forward"))
        .inFile(f).onLineContaining("Tensor both =");
    assertThat(c).hadErrorContaining(Message.MASK_COMPARED_TWICE.format("keep.eq(0)", "keep", "ids.ne(0)"))
        .inFile(f).onLineContaining("Tensor twice =");
    // a buffer's mask is a 0/1 value now (computed from the buffer), whose shape must fit as a buffer's
    assertThat(c).hadErrorContaining("x.add(causal): add of [N, 6, 8] from x.mul(keep.unsqueeze(-1)) and the buffer tril.eq(0.0f)"
        + " [6, 6]: a tensor field repeats over the batch").inFile(f).onLineContaining("x = x.add(causal)");
    assertThat(c).hadErrorContaining(Message.MASK_REASSIGNED.format("keep = tril.eq(0)", "keep", "keep"))
        .inFile(f).onLineContaining("keep = tril.eq(0);");
    assertThat(c).hadErrorContaining(Message.MASK_UNUSED.format("unused", "forward"))
        .inFile(f).onLineContaining("Tensor unused =");
    assertThat(c).hadErrorContaining(Message.MASK_VIEW.format("ids.eq(0).unsqueeze(0)",
        "ids.eq(0).unsqueeze(0): dimension 0 is out of range for a mask [N, 6] (unsqueeze after the batch: 1..2 or -1..-2)"))
        .inFile(f).onLineContaining("Tensor lead =");
    assertEquals(8, c.errors().size(), c.errors().toString()); // (ids.eq(x)'s shapes too, which the checker reports now)
  }

  /**
   * Masks of activations that do not compile, each on its line: a mask that does not repeat over the value it fills, two
   * values compared whose shapes do not repeat, a where of several shapes, a comparison with a number that is not a constant, and a value read only as a mask or compared (its steps
   * would get no gradient, which the compiled backward does not skip).
   */
  @Test
  void activationMasksThatDoNotCompileAreReportedOnTheirLines() {
    JavaFileObject f = classModel("BadActivationMasks",
        "@Model(input = {4, 8})",
        "public class BadActivationMasks extends Module {",
        "  float limit = 0.5f;",
        "  final Linear fc1 = new Linear(8, 8);",
        "  final Linear fc2 = new Linear(8, 6);",
        "  @Override public Tensor forward(Tensor x) {",
        "    Tensor h = fc1.apply(x);",
        "    Tensor k = fc2.apply(x);",
        "    Tensor b = h.mul(h.gt(limit));",
        "    return b;",
        "  }",
        "}");
    Compilation c = compile(f);
    assertThat(c).hadErrorContaining(Message.MASK_COMPARED_WITH.format("h.gt(limit)", "h", "gt",
        "limit, which is not a compile-time constant")).inFile(f).onLineContaining("Tensor b =");
    assertEquals(1, c.errors().size(), c.errors().toString());

    JavaFileObject w = classModel("WideMask",
        "@Model(input = {4, 8})",
        "public class WideMask extends Module {",
        "  final Linear fc1 = new Linear(8, 8);",
        "  final Linear fc2 = new Linear(8, 6);",
        "  @Override public Tensor forward(Tensor x) {",
        "    Tensor h = fc1.apply(x);",
        "    Tensor k = fc2.apply(x);",
        "    Tensor a = h.maskedFill(k.gt(0), 0f);",
        "    Tensor b = h.mul(h.lt(k));",
        "    Tensor c = Tensor.where(h.gt(0), h, k);",
        "    return a.add(b).add(c).add(k.sum(2, true));",
        "  }",
        "}");
    Compilation cw = compile(w);
    assertThat(cw).hadErrorContaining(Message.MASK_INPUT_SHAPE.format("h.maskedFill(k.gt(0), 0.0F)", "[N, 4, 6]",
        "fc2.apply(x)", "[N, 4, 8]", "fc1.apply(x)", "sizes 8 and 6 at dimension 2 differ and neither is 1"))
        .inFile(w).onLineContaining("Tensor a =");
    assertThat(cw).hadErrorContaining(Message.COMPARE_SHAPES.format("h.lt(k)", "[N, 4, 8]", "fc1.apply(x)", "[N, 4, 6]",
        "fc2.apply(x)", "sizes 8 and 6 at dimension 2 differ and neither is 1")).inFile(w).onLineContaining("Tensor b =");
    assertThat(cw).hadErrorContaining(Message.WHERE_SHAPES.format("Tensor.where(h.gt(0), h, k)", "[N, 4, 8]", "fc1.apply(x)",
        "[N, 4, 6]", "fc2.apply(x)", "[N, 4, 8]", "h.gt(0)", "sizes 8 and 6 at dimension 2 differ and neither is 1"))
        .inFile(w).onLineContaining("Tensor c =");
    assertEquals(3, cw.errors().size(), cw.errors().toString());

    JavaFileObject g = classModel("MaskOnlyValue",
        "@Model(input = {4, 8})",
        "public class MaskOnlyValue extends Module {",
        "  final Linear fc1 = new Linear(8, 8);",
        "  final Linear fc2 = new Linear(8, 8);",
        "  @Override public Tensor forward(Tensor x) {",
        "    Tensor h = fc1.apply(x);",
        "    Tensor gate = fc2.apply(x).relu();",
        "    return h.maskedFill(gate.eq(0), 0f);",
        "  }",
        "}");
    Compilation cg = compile(g);
    assertThat(cg).hadErrorContaining(Message.MASK_STOPS_GRADIENT.format("fc2.apply(x)", "h.maskedFill(gate.eq(0), 0.0F)"))
        .inFile(g).onLineContaining("Tensor gate =");
    assertEquals(1, cg.errors().size(), cg.errors().toString());
  }

  /**
   * Tensor fields as where's operands that do not compile yet, each on its line: one against the batch ({@code [2, 6, 8]}
   * over {@code [N, 6, 8]}), one that would widen the result, and a, b and the mask all fields, the mask a parameter (a
   * where of fields alone compiles when the mask is a buffer, WhereOfBuffers and WhereOfParameters), and a where of fields
   * with a parameter viewed.
   */
  @Test
  void whereFieldsThatDoNotCompileAreReportedOnTheirLines() {
    JavaFileObject f = classModel("BadWhereFields",
        "@Model(input = {6, 8})",
        "public class BadWhereFields extends Module {",
        "  final Tensor column = registerParameter(\"column\", Tensor.randn(2, 6, 8).requiresGrad(true));",
        "  final Tensor wide = registerParameter(\"wide\", Tensor.randn(6, 4).requiresGrad(true));",
        "  final Tensor fill = registerBuffer(\"fill\", Tensor.randn(8));",
        "  final Tensor mask = registerBuffer(\"mask\", Tensor.ones(6, 8));",
        "  final Tensor gate = registerParameter(\"gate\", Tensor.ones(6, 8).requiresGrad(true));",
        "  final Linear fc1 = new Linear(8, 8);",
        "  @Override public Tensor forward(Tensor x) {",
        "    Tensor h = fc1.apply(x);",
        "    Tensor a = Tensor.where(h.gt(0), h, column);",
        "    Tensor b = Tensor.where(h.gt(0), wide, h);",
        "    Tensor c = Tensor.where(gate, fill, mask);",
        "    return a.add(b).add(c);",
        "  }",
        "}");
    Compilation c = compile(f);
    assertThat(c).hadErrorContaining(Message.WHERE_FIELD_SHAPE.format("Tensor.where(h.gt(0), h, column)", "the parameter column [2, 6, 8]",
        "[N, 6, 8]")).inFile(f).onLineContaining("Tensor a =");
    assertThat(c).hadErrorContaining(Message.WHERE_FIELD_SHAPE.format("Tensor.where(h.gt(0), wide, h)", "the parameter wide [6, 4]",
        "[N, 6, 8]")).inFile(f).onLineContaining("Tensor b =");
    assertThat(c).hadErrorContaining(Message.WHERE_ONLY_FIELDS.format("Tensor.where(gate, fill, mask)", "fill", "mask", "gate",
        "[6, 8]", "the parameter gate [6, 8] as the mask (a mask gets no gradient)")).inFile(f).onLineContaining("Tensor c =");
    assertEquals(3, c.errors().size(), c.errors().toString());
    JavaFileObject g = classModel("BadWhereView",
        "@Model(input = {6, 8})",
        "public class BadWhereView extends Module {",
        "  final Tensor fill = registerBuffer(\"fill\", Tensor.randn(8));",
        "  final Tensor mask = registerBuffer(\"mask\", Tensor.ones(6, 8));",
        "  final Tensor gate = registerParameter(\"gate\", Tensor.ones(6, 8).requiresGrad(true));",
        "  final Linear fc1 = new Linear(8, 8);",
        "  @Override public Tensor forward(Tensor x) {",
        "    Tensor d = Tensor.where(mask, fill, gate);",
        "    Tensor e = d.view(6, 8);",
        "    return fc1.apply(x).add(e);",
        "  }",
        "}");
    assertThat(compile(g)).hadErrorContaining(Message.WHERE_FIELDS_SLICED.format("d.view(6, 8)", "Tensor.where(mask, fill, gate)"))
        .inFile(g).onLineContaining("Tensor e =");
  }

  /**
   * Masks computed in forward of shapes that do not repeat over the value they fill: a padding mask made from ids
   * (both shapes named, and what made each), a buffer's view (its shape folded from the declaration).
   */
  @Test
  void masksComputedInForwardOfTheWrongShapeAreReportedOnTheirUses() {
    JavaFileObject f = classModel("BadMaskShapes",
        "@Model(input = {6})",
        "public class BadMaskShapes extends Module {",
        "  static final int S = 6;",
        "  final Embedding tok = new Embedding(11, 8, 0);",
        "  final Tensor tril = registerBuffer(\"tril\", Tensor.ones(S, S).tril());",
        "  @Override public Tensor forward(Tensor ids) {",
        "    Tensor rows = ids.eq(0).view(-1, 1, S);",
        "    Tensor causal = tril.view(S, S, 1).eq(0);",
        "    Tensor x = tok.apply(ids);",
        "    Tensor a = x.maskedFill(rows, 0f);",
        "    Tensor b = x.maskedFill(causal, 0f);",
        "    return a.add(b).mean(1);",
        "  }",
        "}");
    Compilation c = compile(f);
    assertThat(c).hadErrorContaining(Message.MASK_INPUT_SHAPE.format("x.maskedFill(rows, 0.0F)", "[N, 1, 6]", "ids.eq(0).view(-1, 1, S)",
        "[N, 6, 8]", "tok.apply(ids)", "sizes 8 and 6 at dimension 2 differ and neither is 1")).inFile(f).onLineContaining("Tensor a =");
    assertThat(c).hadErrorContaining("x.maskedFill(causal, 0.0F): the mask tril [6, 6, 1] does not repeat over [N, 6, 8]")
        .inFile(f).onLineContaining("Tensor b =");
    assertEquals(2, c.errors().size(), c.errors().toString());
  }

  @Test
  void aMethodOfSeveralInputsReturningAFurtherInput() {
    JavaFileObject f = classModel("Echo",
        "@Model(input = {4})",
        "public class Echo extends Module {",
        "  final Linear fc1 = new Linear(4, 2);",
        "  public Tensor forwardEcho(Tensor x, @Input({2}) Tensor b) {",
        "    Tensor h = fc1.apply(x);",
        "    return b.reshape(-1, 2);",
        "  }",
        "  @Override public Tensor forward(Tensor x) { return fc1.apply(x); }",
        "}");
    Compilation c = compile(f);
    assertThat(c).hadErrorContaining(Message.RETURNS_FURTHER_INPUT.format("forwardEcho", "b"));
  }

  /**
   * A method of several inputs returning several outputs: its record checked as the method of several outputs' is (not
   * private, Tensor components), each output a value computed from the inputs, its return a new record of them; a second
   * method of several inputs is refused whatever it returns (one per model), while a method of several outputs of x
   * alone may stand beside it.
   */
  @Test
  void aMethodOfSeveralInputsAndOutputsIsCheckedOnItsLines() {
    JavaFileObject f = classModel("PairOuts",
        "@Model(input = {4})",
        "public class PairOuts extends Module {",
        "  final Linear fc1 = new Linear(4, 2);",
        "  final Linear fc2 = new Linear(2, 2);",
        "  private record Pair(Tensor left, Tensor right) {}",
        "  public Pair forwardPair(Tensor x, @Input({2}) Tensor b) {",
        "    return new Pair(fc1.apply(x), fc2.apply(b));",
        "  }",
        "  public Tensor[] forwardBoth(Tensor x, @Input({2}) Tensor b) { return new Tensor[] {fc1.apply(x), b}; }",
        "  @Override public Tensor forward(Tensor x) { return fc1.apply(x); }",
        "}");
    Compilation c = compile(f);
    assertThat(c).hadErrorContaining(Message.PRIVATE_OUTPUTS_RECORD.format("Pair", "KilnPairOuts"))
        .inFile(f).onLineContaining("private record Pair");
    assertThat(c).hadErrorContaining(Message.TWO_INPUTS_METHODS.format("forwardBoth", "forwardPair"))
        .inFile(f).onLineContaining("public Tensor[] forwardBoth");
    assertEquals(2, c.errors().size(), c.errors().toString());

    JavaFileObject g = classModel("PairEcho",
        "@Model(input = {4})",
        "public class PairEcho extends Module {",
        "  final Linear fc1 = new Linear(4, 2);",
        "  public record Pair(Tensor left, int right) {}",
        "  public record Echo(Tensor left, Tensor right) {}",
        "  public Echo forwardEcho(Tensor x, @Input({2}) Tensor b) {",
        "    Tensor h = fc1.apply(x);",
        "    return new Echo(h, b.reshape(-1, 2));",
        "  }",
        "  public Tensor[] heads(Tensor x) { Tensor h = fc1.apply(x); return new Tensor[] {h, h.mul(2f)}; }",
        "  @Override public Tensor forward(Tensor x) { return fc1.apply(x); }",
        "}");
    c = compile(g);
    assertThat(c).hadErrorContaining(Message.RETURNS_FURTHER_INPUT.format("forwardEcho", "b"))
        .inFile(g).onLineContaining("public Echo forwardEcho");
    assertEquals(1, c.errors().size(), c.errors().toString());

    JavaFileObject h = classModel("PairNoRecord",
        "@Model(input = {4})",
        "public class PairNoRecord extends Module {",
        "  final Linear fc1 = new Linear(4, 2);",
        "  public record Pair(Tensor left, Tensor right) {}",
        "  public Pair forwardPair(Tensor x, @Input({2}) Tensor b) {",
        "    Tensor h = fc1.apply(x).add(b);",
        "    return pair(h);",
        "  }",
        "  static Pair pair(Tensor h) { return new Pair(h, h); }",
        "  @Override public Tensor forward(Tensor x) { return fc1.apply(x); }",
        "}");
    c = compile(h);
    assertThat(c).hadErrorContaining(Message.NO_OUTPUTS_RETURN.format("forwardPair", "new Pair(left, right)"))
        .inFile(h).onLineContaining("return pair(h)");
    assertEquals(1, c.errors().size(), c.errors().toString());

    JavaFileObject k = classModel("PairSteps",
        "@Model(input = {4})",
        "public class PairSteps extends Module {",
        "  final Linear fc1 = new Linear(4, 2);",
        "  public record Pair(Tensor left, int step) {}",
        "  public Pair forwardPair(Tensor x, @Input({2}) Tensor b) { return new Pair(fc1.apply(x).add(b), 0); }",
        "  @Override public Tensor forward(Tensor x) { return fc1.apply(x); }",
        "}");
    c = compile(k);
    assertThat(c).hadErrorContaining(Message.NON_TENSOR_COMPONENT.format("step", "Pair", "int"))
        .inFile(k).onLineContaining("public record Pair");
    assertEquals(1, c.errors().size(), c.errors().toString());
  }

  @Test
  void twoOutputsMethods() {
    JavaFileObject f = classModel("TwoOutputs",
        "@Model(input = {4})",
        "public class TwoOutputs extends Module {",
        "  final Linear fc1 = new Linear(4, 2);",
        "  record Outputs(Tensor output, Tensor hidden) {}",
        "  Outputs first(Tensor x) { Tensor h = fc1.apply(x); return new Outputs(h, h); }",
        "  Tensor[] second(Tensor x) { Tensor h = fc1.apply(x); return new Tensor[] {h, h}; }",
        "  @Override public Tensor forward(Tensor x) { return first(x).output(); }",
        "}");
    Compilation c = compile(f);
    assertThat(c).hadErrorContaining(Message.TWO_OUTPUTS_METHODS.format("second", "first"))
        .inFile(f).onLineContaining("Tensor[] second(Tensor x)");
  }

  @Test
  void outputsMethodWithTheWrongParameters() {
    JavaFileObject f = classModel("WrongParameters",
        "@Model(input = {4})",
        "public class WrongParameters extends Module {",
        "  final Linear fc1 = new Linear(4, 2);",
        "  record Outputs(Tensor output, Tensor hidden) {}",
        "  Outputs forwardWithHidden(Tensor x, int layer) { Tensor h = fc1.apply(x); return new Outputs(h, h); }",
        "  @Override public Tensor forward(Tensor x) { return fc1.apply(x); }",
        "}");
    Compilation c = compile(f);
    assertThat(c).hadErrorContaining(Message.BAD_OUTPUTS_METHOD.format("forwardWithHidden", "Outputs", "forwardWithHidden"))
        .inFile(f).onLineContaining("Outputs forwardWithHidden(Tensor x, int layer)");
  }

  @Test
  void privateOutputsMethodAndRecord() {
    JavaFileObject f = classModel("PrivateOutputs",
        "@Model(input = {4})",
        "public class PrivateOutputs extends Module {",
        "  final Linear fc1 = new Linear(4, 2);",
        "  private record Outputs(Tensor output, Tensor hidden) {}",
        "  private Outputs forwardWithHidden(Tensor x) { Tensor h = fc1.apply(x); return new Outputs(h, h); }",
        "  @Override public Tensor forward(Tensor x) { return forwardWithHidden(x).output(); }",
        "}");
    Compilation c = compile(f);
    assertThat(c).hadErrorContaining(Message.BAD_OUTPUTS_METHOD.format("forwardWithHidden", "Outputs", "forwardWithHidden"))
        .inFile(f).onLineContaining("private Outputs forwardWithHidden");
    assertThat(c).hadErrorContaining(Message.PRIVATE_OUTPUTS_RECORD.format("Outputs", "KilnPrivateOutputs"))
        .inFile(f).onLineContaining("private record Outputs");
  }

  @Test
  void forwardUsesTheOutputsMethodInsideAnExpression() {
    JavaFileObject f = classModel("Inside",
        "@Model(input = {4})",
        "public class Inside extends Module {",
        "  final Linear fc1 = new Linear(4, 2);",
        "  record Outputs(Tensor output, Tensor hidden) {}",
        "  Outputs forwardWithHidden(Tensor x) { Tensor h = fc1.apply(x); return new Outputs(relu(h), h); }",
        "  @Override public Tensor forward(Tensor x) {",
        "    return relu(forwardWithHidden(x).hidden());",
        "  }",
        "}");
    Compilation c = compile(f);
    assertThat(c).hadErrorContaining(Message.FORWARD_CALLS_OUTPUTS.format("forwardWithHidden", "forwardWithHidden(x).output()"))
        .inFile(f).onLineContaining("return relu(forwardWithHidden(x).hidden());");
  }

  @Test
  void outputsMustIncludeTheLastValueComputed() {
    JavaFileObject f = classModel("DeadEnd",
        "@Model(input = {4})",
        "public class DeadEnd extends Module {",
        "  final Linear fc1 = new Linear(4, 3);",
        "  final Linear fc2 = new Linear(3, 2);",
        "  record Outputs(Tensor output, Tensor hidden) {}",
        "  Outputs forwardWithHidden(Tensor x) {",
        "    Tensor h = fc1.apply(x);",
        "    Tensor unused = fc2.apply(h);",
        "    return new Outputs(h, h);",
        "  }",
        "  @Override public Tensor forward(Tensor x) { return forwardWithHidden(x).output(); }",
        "}");
    Compilation c = compile(f);
    assertThat(c).hadErrorContaining("the value of fc2.apply(h) is never used: forwardWithHidden returns fc1.apply(x), "
            + "fc1.apply(x); use the value or drop the step")
        .inFile(f).onLineContaining("Tensor unused = fc2.apply(h);");
  }

  @Test
  void outputsShapeErrorsAreReportedLikeForwards() {
    JavaFileObject f = classModel("OutputsShape",
        "@Model(input = {4})",
        "public class OutputsShape extends Module {",
        "  final Linear fc1 = new Linear(4, 3);",
        "  final Linear fc2 = new Linear(5, 2);",
        "  record Outputs(Tensor output, Tensor hidden) {}",
        "  Outputs forwardWithHidden(Tensor x) {",
        "    Tensor h = fc1.apply(x);",
        "    return new Outputs(fc2.apply(h), h);",
        "  }",
        "  @Override public Tensor forward(Tensor x) { return forwardWithHidden(x).output(); }",
        "}");
    Compilation c = compile(f);
    assertThat(c).hadErrorContaining("fc2: Linear(in_features=5, out_features=2, bias=True) expects [N, 5], receives [N, 3], from fc1.apply(x)")
        .inFile(f).onLineContaining("return new Outputs(fc2.apply(h), h);");
  }

  // ------------------------------------------------------------------ ninth session's audit of the diagnostics

  /** Sequential child names the builder refuses at run time are compile errors on their .add call. */
  @ParameterizedTest(name = "{0}")
  @CsvSource(delimiter = '|', quoteCharacter = '`', value = {
      ".add(\"fc\", new Linear(4, 4)).add(\"fc\", new Linear(4, 2))| .add(\"fc\", new Linear(4, 2))| model: the name 'fc' is used twice; Sequential.builder() refuses it",
      ".add(\"1\", new Linear(4, 2)).add(new ReLU())| .add(new ReLU())| model: the name '1' is used twice (an unnamed child is named by its position)",
      ".add(\"a.b\", new Linear(4, 2))| .add(\"a.b\"| model: 'a.b' is not a valid child name (non-empty, no dots)",
      ".add(\"\", new Linear(4, 2))| .add(\"\"| model: '' is not a valid child name",
  })
  void sequentialChildNamesTheBuilderRefusesAreCompileErrors(String adds, String line, String message) {
    JavaFileObject f = classModel("Names",
        "public class Names {",
        "  @Model(input = {4})",
        "  public static Sequential net() {",
        "    return Sequential.builder()",
        "        " + adds.replace(").add(", ")\n        .add("),
        "        .build();",
        "  }",
        "}");
    Compilation c = compile(f);
    assertThat(c).hadErrorContaining(message).inFile(f).onLineContaining(line.strip());
  }

  @Test
  void anEmptySequentialIsACompileError() {
    JavaFileObject f = classModel("Empty",
        "@Model(input = {4})",
        "public class Empty extends Module {",
        "  final Sequential body = Sequential.of();",
        "  @Override public Tensor forward(Tensor x) { return body.apply(x); }",
        "}");
    assertThat(compile(f)).hadErrorContaining("body: Sequential needs at least one layer").inFile(f).onLineContaining("Sequential.of()");
  }

  /** Names Java fields cannot have ("fc-1", "fc 2", keywords) still compile: the generated fields get Java names. */
  @Test
  void childNamesThatAreNotJavaNamesCompileAndKeepTheirStateDictKeys() throws Exception {
    Compilation c = compile(classModel("Odd",
        "public class Odd {",
        "  @Model(input = {4})",
        "  public static Sequential net() {",
        "    return Sequential.builder().add(\"fc-1\", new Linear(4, 3)).add(\"class\", new ReLU()).add(\"fc 2\", new Linear(3, 2)).build();",
        "  }",
        "}"));
    assertThat(c).succeededWithoutWarnings();
    dev.kiln.dsl.Module net = ParityTest.factory(new ParityTest.CompiledClasses(c), "test.KilnNet").get();
    assertEquals(java.util.List.of("fc-1.weight", "fc-1.bias", "fc 2.weight", "fc 2.bias"), java.util.List.copyOf(net.stateDict().keySet()));
    assertEquals(2, net.forward(dev.kiln.runtime.Tensor.randn(3, 4)).size(1));
  }

  /** Constant expressions javac folds (JLS 15.29) are constants here too: casts, ?:, string +. */
  @Test
  void castsConditionalsAndStringConcatenationAreConstants() {
    Compilation c = compile(classModel("Folded",
        "@Model(input = {4})",
        "public class Folded extends Module {",
        "  static final boolean BIG = false;",
        "  static final double ZERO = -0.0;",
        "  static final char C = 'A';",
        "  final Linear fc = new Linear((int) 4.0 & ~0 | (C - 'A') ^ 0, BIG ? 8 : 2);",
        "  final Dropout drop = new Dropout(0.0 == ZERO && 16777217 == 16777216f ? 0.5 : 0.25);",
        "  final Sequential tail = Sequential.builder().add(\"fc\" + 1, new Linear(2 > 1 && !BIG ? 2 : 3, 2)).build();",
        "  @Override public Tensor forward(Tensor x) { return tail.apply(drop.apply(fc.apply(x))); }",
        "}"));
    assertThat(c).succeededWithoutWarnings();
    // the compiled class checks at construction that each layer is the one it was generated for:
    // javac's values (-0.0 == 0.0; the int widened to float) and the processor's agree
    dev.kiln.dsl.Module net = ParityTest.factory(new ParityTest.CompiledClasses(c), "test.KilnFolded").get();
    assertEquals("Dropout(p=0.5, inplace=False)", net.getSubmodule("drop").toString());
  }

  @ParameterizedTest(name = "{0}")
  @CsvSource(delimiter = '|', quoteCharacter = '`', value = {
      "static final Linear fc = new Linear(4, 2);| return fc.apply(x);| return fc.apply(x);| 'fc' is a static layer field",
      "final Linear fc = new Linear(4, 2);| Linear l = fc; return l.apply(x);| Linear l = fc;| 'fc' is a layer field used as a value in forward: apply it (fc.apply(x))",
      "final Linear fc = new Linear(4, 2);| return F.mseLoss(fc.apply(x), x);| mseLoss| a loss belongs outside forward: apply it to the model's output",
      "final Linear fc = new Linear(4, 2);| return this.forward(x);| return this.forward(x);| this.forward(x): the compiler reads the layer calls forward makes itself",
  })
  void misusedLayersAndFunctionsSayWhatToWrite(String field, String body, String line, String message) {
    JavaFileObject f = classModel("Misuse",
        "@Model(input = {4})",
        "public class Misuse extends Module {",
        "  " + field,
        "  @Override public Tensor forward(Tensor x) {",
        "    " + body,
        "  }",
        "}");
    assertThat(compile(f)).hadErrorContaining(message).inFile(f).onLineContaining(line.strip());
  }

  @Test
  void abstractMethodsAndCheckedConstructorExceptionsAreReportedNotLeftToTheGeneratedClass() {
    JavaFileObject f = classModel("Shapeless",
        "@Model(input = {4})",
        "public abstract class Shapeless extends Module {",
        "  final Linear fc = new Linear(4, 2);",
        "  public Shapeless() throws Exception {}",
        "  abstract int size();",
        "  @Override public Tensor forward(Tensor x) { return fc.apply(x); }",
        "}");
    Compilation c = compile(f);
    assertThat(c).hadErrorContaining("@Model class Shapeless leaves size() abstract").inFile(f).onLineContaining("class Shapeless");
    assertThat(c).hadErrorContaining("declares 'throws java.lang.Exception'").inFile(f).onLineContaining("public Shapeless()");
  }

  @Test
  void twoFactoryMethodsOfOneNameInOnePackageAreAUserError() {
    JavaFileObject a = classModel("A",
        "public class A {",
        "  @Model(input = {4}) public static Sequential net() { return Sequential.of(new Linear(4, 2)); }",
        "}");
    JavaFileObject b = classModel("B",
        "public class B {",
        "  @Model(input = {4}) public static Sequential net() { return Sequential.of(new Linear(4, 3)); }",
        "}");
    Compilation c = compile(a, b);
    assertThat(c).hadErrorContaining("would generate test.KilnNet, which A.net() generates already");
    assertThat(c).hadErrorCount(1);
  }

  @Test
  void badInputShapesAreReportedOnTheAnnotationAndAnOutOfRangeOutputIndexByItsValue() {
    JavaFileObject f = classModel("Huge",
        "@Model(input = {65536, 65537})",
        "public class Huge extends Module {",
        "  final Linear fc = new Linear(4, 2);",
        "  @Override public Tensor forward(Tensor x) { return fc.apply(x); }",
        "}");
    assertThat(compile(f)).hadErrorContaining("one sample would hold more than 2^31-1 values").inFile(f)
        .onLineContaining("@Model(input = {65536, 65537})");
    JavaFileObject g = classModel("Indexed",
        "@Model(input = {4})",
        "public class Indexed extends Module {",
        "  final Linear fc = new Linear(4, 3);",
        "  final Linear out = new Linear(3, 2);",
        "  public Tensor[] all(Tensor x) { Tensor h = fc.apply(x); Tensor y = out.apply(h); return new Tensor[] {h, y}; }",
        "  @Override public Tensor forward(Tensor x) {",
        "    return all(x)[2];",
        "  }",
        "}");
    assertThat(compile(g)).hadErrorContaining("index 2 is out of range: all returns 2 outputs (0..1)").inFile(g)
        .onLineContaining("return all(x)[2];");
  }

  /**
   * Every form of ids ranked or picked along a dimension that an Embedding looks up compiles: argmax, argmin, the indices
   * of max, min, topk and sort, argsort.
   */
  @Test
  void idsAlongADimensionCompileInEveryForm() {
    JavaFileObject f = classModel("IdForms",
        "@Model(input = {6, 8})",
        "public class IdForms extends Module {",
        "  final Linear predict = new Linear(8, 5);",
        "  final Embedding emb = new Embedding(5, 8);",
        "  @Override public Tensor forward(Tensor x) {",
        "    Tensor logits = predict.apply(x);",
        "    Tensor y = x.add(emb.apply(logits.argmax(-1))).add(emb.apply(logits.argmin(2, true).view(-1, 6)))",
        "        .add(emb.apply(logits.max(-1).indices())).add(emb.apply(logits.min(2).indices()))",
        "        .add(emb.apply(logits.topk(3, -1, false).indices()).sum(2)).add(emb.apply(logits.sort(-1).indices()).mean(2))",
        "        .add(emb.apply(logits.argsort(-1)).sum(2)).add(emb.apply(logits.sort(2, true).indices()).sum(2));",
        "    return y.flatten(1, 2).narrow(1, 0, 30).add(logits.flatten(1, 2));",
        "  }",
        "}");
    assertThat(compile(f)).succeededWithoutWarnings();
  }

  /**
   * An argmax's ids read as values (added to the logits), and logits read by an argmax alone (the layer that makes them
   * would get no gradient): each an error on its line naming the argmax.
   */
  @ParameterizedTest(name = "{0}")
  @CsvSource(delimiter = '|', value = {
      "Tensor y = logits.add(logits.argmax(-1, true)); | Tensor y = logits.add(| logits.argmax(-1, true) is ids (indices along a"
          + " dimension, an argmax's, argmin's, topk's or argsort's, without gradient), which a compiled forward reads only as ids an Embedding looks up",
      "Tensor y = logits.mul(logits.argmin(1)); | Tensor y = logits.mul(| logits.argmin(1) is ids (indices along a dimension",
      "Tensor y = logits.sub(logits.min(-1, true).indices()); | Tensor y = logits.sub(| logits.min(-1, true).indices() is ids (indices"
          + " along a dimension",
      "Tensor y = logits.add(logits.topk(2, -1).indices()); | Tensor y = logits.add(| logits.topk(2, -1).indices() is ids"
          + " (indices along a dimension",
      "Tensor y = emb.apply(logits.topk(9, -1).indices()).flatten(2, 3); | Tensor y = emb.apply(| topk(9, -1).indices() of [N,"
          + " 6, 8]: k 9 is out of range for dimension -1 of size 8",
      "Tensor y = logits.max(-1).values(); | Tensor y = logits.max(-1).values();| unsupported expression in forward: call logits.max(-1).values",
      "Tensor y = x.add(emb.apply(logits.argmax(-1))); | Tensor logits = predict.apply(x);| the value of predict.apply(x) is"
          + " read only by an argmax, argmin, topk's or argsort's indices (logits.argmax(-1)), which passes no gradient",
  })
  void argmaxIdsReadOtherwiseAreRefused(String statement, String line, String message) {
    assertStatementError("Argmaxes", "6, 8", "x", List.of("  final Linear predict = new Linear(8, 8);",
        "  final Embedding emb = new Embedding(8, 8);"), "Tensor logits = predict.apply(x);", statement, line, message);
  }

  /**
   * A model of the fields {@code fields} whose forward (its input {@code input}, of the sample shape {@code sample}) runs
   * {@code first}, then {@code statement} (assigning {@code y}), and returns {@code y.flatten(1, 2)}: its compilation has
   * the error {@code message} on the line containing {@code line}.
   */
  private static void assertStatementError(String name, String sample, String input, List<String> fields, String first,
      String statement, String line, String message) {
    List<String> lines = new ArrayList<>(List.of("@Model(input = {" + sample + "})", "public class " + name + " extends Module {"));
    lines.addAll(fields);
    lines.addAll(List.of("  @Override public Tensor forward(Tensor " + input + ") {", "    " + first, "    " + statement,
        "    return y.flatten(1, 2);", "  }", "}"));
    JavaFileObject f = classModel(name, lines.toArray(String[]::new));
    Compilation c = compile(f);
    assertThat(c).hadErrorContaining(message).inFile(f).onLineContaining(line.strip());
  }

  /**
   * Integer arithmetic of ids in a compiled forward: its ids read as values, a division by the constant 0, integer
   * arithmetic of floats where a compiled forward has none, ids made floats by a float constant, ids with a float value,
   * and ids of two values that do not broadcast are errors on their line.
   */
  @ParameterizedTest(name = "{0}")
  @CsvSource(delimiter = '|', value = {
      "Tensor y = x.add(ids.add(1).view(-1, 6, 1)); | Tensor y = x.add(| ids.add(1).view(-1, 6, 1) is ids computed in forward"
          + " (integer arithmetic of ids, without gradient), which a compiled forward reads only as ids an Embedding looks up",
      "Tensor y = tok.apply(ids.remainder(0)); | Tensor y = tok.apply(| ids.remainder(0): remainder: integer division by zero",
      "Tensor y = x.floorDivide(2); | Tensor y = x.floorDivide(| but tok.apply(ids) is a float value; eager mode takes ids only too",
      "Tensor y = tok.apply(ids.add(1.5f)); | Tensor y = tok.apply(| the input ids is ids (tok looks them up), which only Embeddings read",
      "Tensor y = x.add(tok.apply(Tensor.labels(0, 1, 2, 3, 4, 5).mul(3))); | Tensor y = x.add(| id 12 at 4 of"
          + " Tensor.labels(0, 1, 2, 3, 4, 5).mul(3) is out of range for 12 embeddings (0..11)",
      "Tensor y = x.add(tok.apply(Tensor.labels(0, 1, 2, 3, 4, 5).floorDivide(0))); | Tensor y = x.add(| floor_divide: integer"
          + " division by zero",
      "Tensor y = x.add(tok.apply(ids.remainder(Tensor.labels(1, 0, 1, 1, 1, 1)))); | Tensor y = x.add(| remainder: integer"
          + " division by zero (Tensor.labels(1, 0, 1, 1, 1, 1) holds 0)",
      "Tensor y = x.add(tok.apply(ids.add(Tensor.labels(0, 1, 2)))); | Tensor y = x.add(| the ids built in forward, [3], do not"
          + " repeat over each sample's ids [N, 6]",
      "Tensor y = x.add(x.sub(Tensor.labels(0, 1, 2, 3).view(1, 1, 4))); | Tensor y = x.add(| holds ids built in forward",
      "Tensor y = tok.apply(ids.floorDivide(x)); | Tensor y = tok.apply(| ids.floorDivide(x) is integer arithmetic, which a compiled"
          + " forward runs on ids only (the input an Embedding looks up, an argmax's indices, or ids so computed), but tok.apply(ids)"
          + " is a float value; eager mode takes ids only too",
      "Tensor y = tok.apply(ids.add(x.sum(2))); | Tensor y = tok.apply(| ids.add(x.sum(2)): the input ids is ids (tok looks them"
          + " up), which only Embeddings read in a compiled model",
      "Tensor y = tok.apply(ids.view(-1, 6, 1).add(ids.view(-1, 3, 2))); | Tensor y = tok.apply(| a compiled add of ids broadcasts"
          + " its two values as PyTorch does, but one is [N, 6, 1] from ids.view(-1, 6, 1) and the other [N, 3, 2] from ids.view(-1,"
          + " 3, 2): sizes 6 and 3 at dimension 1 differ and neither is 1",
  })
  void idArithmeticErrorsAreOnTheirLine(String statement, String line, String message) {
    assertStatementError("IdMath", "6", "ids", List.of("  final Embedding tok = new Embedding(12, 4);"), "Tensor x = tok.apply(ids);",
        statement, line, message);
  }

  /**
   * Ids moved in a compiled forward (a narrow, flip, roll or pad of ids): the moved ids read as values, a pad value no id
   * holds, a move of the batch, a move of floats looked up, and a where of ids whose operands do not broadcast are errors on their
   * line (a mask compared from moved ids compiles: BroadcastIds).
   */
  @ParameterizedTest(name = "{0}")
  @CsvSource(delimiter = '|', value = {
      "Tensor h = ids.flip(1); Tensor y = x.add(tok.apply(h)).add(h.view(-1, 6, 1)); | Tensor h = ids.flip(1); | h.view(-1, 6, 1) is"
          + " ids moved or summed in forward (a narrow, flip, roll, pad, where or sum of ids, without gradient), which a compiled forward reads only as ids"
          + " an Embedding looks up",
      "Tensor y = x.add(tok.apply(F.pad(ids, new int[] {1, 0}, Float.NaN))); | Tensor y = x.add(| F.pad(ids, new int[]{1, 0},"
          + " Float.NaN): the value NaN pads ids (int32, PyTorch's int64), which hold whole numbers of at most 2^24 in magnitude",
      "Tensor y = x.add(tok.apply(ids.roll(1, 0))); | Tensor y = x.add(| roll(1, 0) of [N, 6]: dimension 0 is the batch, which a compiled forward keeps",
      "Tensor y = x.add(tok.apply(x.sum(2).flip(1))); | Tensor y = x.add(| tok: an Embedding takes",
      "Tensor y = x.add(tok.apply(Tensor.where(ids.view(-1, 6, 1).gt(5), ids, ids.flip(1)))); | Tensor y = x.add(| a compiled where"
          + " of ids broadcasts its mask and its two ids, each of the batch, but the mask is [N, 6, 1] from ids.view(-1, 6, 1).gt(5), a"
          + " [N, 6] from the input ids (@Model input) and b [N, 6] from ids.flip(1): their ranks differ",
      "Tensor y = x.add(tok.apply(Tensor.where(ids.gt(5), ids, ids.narrow(1, 0, 2)))); | Tensor y = x.add(| b [N, 2] from ids.narrow(1,"
          + " 0, 2): sizes 6 and 2 at dimension 1 differ and neither is 1",
  })
  void idMovesErrorsAreOnTheirLine(String statement, String line, String message) {
    assertStatementError("IdMoves", "6", "ids", List.of("  final Embedding tok = new Embedding(12, 4);"), "Tensor x = tok.apply(ids);",
        statement, line, message);
  }

  /** The decoder layers (eager only, as the encoder layers) are each an error on their declaration's line. */
  @Test
  void decodersWithoutTheirMemoryAreErrorsOnTheirLines() {
    JavaFileObject f = classModel("Decoder",
        "@Model(input = {6, 8})",
        "public class Decoder extends Module {",
        "  final TransformerDecoderLayer block = new TransformerDecoderLayer(8, 2, 16, 0.1, \"relu\", 1e-5, true, false);",
        "  final TransformerDecoderLayer shared = new TransformerDecoderLayer(8, 2, 16, 0.0, \"relu\", 1e-5, true, false);",
        "  final TransformerDecoder copied = new TransformerDecoder(shared, 2);",
        "  final TransformerDecoder decoder = new TransformerDecoder(new TransformerDecoderLayer(8, 2), 2);",
        "  @Override public Tensor forward(Tensor x) {",
        "    Tensor h = decoder.forward(x, x);",
        "    return h.add(block.apply(x));",
        "  }",
        "}");
    Compilation c = compile(f);
    assertThat(c).hadErrorContaining("block: TransformerDecoderLayer(d_model=8, nhead=2, dim_feedforward=16, dropout=0.1,"
        + " activation=relu, layer_norm_eps=1e-05, batch_first=True, norm_first=False) needs the encoder's output too: call"
        + " forward(tgt, memory)").inFile(f).onLineContaining("block.apply(x)");
    assertThat(c).hadErrorContaining("copied: TransformerDecoder's layer shared must be written in place, new"
        + " TransformerDecoderLayer(...)").inFile(f).onLineContaining("new TransformerDecoder(shared");
    assertThat(c).hadErrorContaining("decoder.layers.0.self_attn MultiheadAttention(embed_dim=8, num_heads=2, dropout=0.1) is"
        + " sequence first").inFile(f).onLineContaining("decoder.forward(x, x)");
    JavaFileObject h = classModel("UntrackedNorm",
        "@Model(input = {3, 4, 4})",
        "public class UntrackedNorm extends Module {",
        "  final InstanceNorm2d norm = new InstanceNorm2d(3, 1e-5, 0.2, true, false);",
        "  @Override public Tensor forward(Tensor x) {",
        "    return norm.apply(x);",
        "  }",
        "}");
    Compilation e = compile(h);
    assertThat(e).succeeded();
    assertThat(e).generatedSourceFile("test.KilnUntrackedNorm").contentsAsUtf8String()
        .contains("new InstanceNorm2d.Spec(3, 1.0E-5, true, 0.2, false)");
  }

  /**
   * nn.Transformer's forms that do not compile are errors on their lines: sequence first (PyTorch's default), a custom
   * encoder or decoder not written in place, stacks of other widths, {@code apply(x)} (a source and a target needed); a
   * causal mask made in forward of another size (an attn_mask with add_bias_kv compiles, padded as eager's).
   */
  @Test
  void transformersOutsideTheCompiledFormsAreErrorsOnTheirLines() {
    JavaFileObject f = classModel("Transformers",
        "@Model(input = {6, 8})",
        "public class Transformers extends Module {",
        "  final Transformer seqFirst = new Transformer(8, 2, 1, 1, 16, 0.1);",
        "  final TransformerEncoder enc = new TransformerEncoder(new TransformerEncoderLayer(8, 2, 16, 0.0, \"relu\", 1e-5, true, false), 1);",
        "  final Transformer shared = new Transformer(enc,",
        "      new TransformerDecoder(new TransformerDecoderLayer(8, 2, 16, 0.0, \"relu\", 1e-5, true, false), 1));",
        "  final Transformer widths = new Transformer(",
        "      new TransformerEncoder(new TransformerEncoderLayer(4, 2, 16, 0.0, \"relu\", 1e-5, true, false), 1),",
        "      new TransformerDecoder(new TransformerDecoderLayer(8, 2, 16, 0.0, \"relu\", 1e-5, true, false), 1));",
        "  final Transformer ok = new Transformer(8, 2, 1, 1, 16, 0.0, \"relu\", 1e-5, true, false);",
        "  @Override public Tensor forward(Tensor x) {",
        "    Tensor b = ok.forward(x, x, null, Transformer.generateSquareSubsequentMask(5), null, null, null, null);",
        "    return ok.apply(x);",
        "  }",
        "}");
    Compilation c = compile(f);
    assertThat(c).hadErrorContaining("seqFirst: Transformer(d_model=8, nhead=2, num_encoder_layers=1, num_decoder_layers=1,"
        + " batch_first=False) is sequence first ([S, N, E] and [T, N, E]), but a compiled forward holds the batch first:"
        + " construct it with batchFirst true").inFile(f).onLineContaining("new Transformer(8, 2, 1, 1, 16, 0.1)");
    assertThat(c).hadErrorContaining("shared: Transformer's custom encoder enc must be written in place, new"
        + " TransformerEncoder(new TransformerEncoderLayer(...), n[, norm])").inFile(f).onLineContaining("new Transformer(enc,");
    assertThat(c).hadErrorContaining("widths: Transformer: the encoder's layers (TransformerEncoderLayer(d_model=4")
        .inFile(f).onLineContaining("final Transformer widths");
    assertThat(c).hadErrorContaining("ok: Transformer needs a source and a target: call forward(src, tgt)")
        .inFile(f).onLineContaining("ok.apply(x)");
    assertThat(c).hadErrorContaining("ok.decoder.layers.0.self_attn MultiheadAttention(embed_dim=8, num_heads=2, batch_first=True):"
        + " attn_mask must be [L, S] = [6, 6], got generateSquareSubsequentMask(5), [5, 5]").inFile(f)
        .onLineContaining("Tensor b = ");
  }

  /**
   * A transformer block's activation given as a layer compiles only written in place and one of the parameterless
   * activation layers: a variable, or a layer with parameters, is an error on its line naming what compiles.
   */
  @Test
  void transformerActivationsOutsideTheCompiledFormsAreErrorsOnTheirLines() {
    JavaFileObject f = classModel("Activations",
        "@Model(input = {6, 8})",
        "public class Activations extends Module {",
        "  static final GELU ACT = new GELU(\"tanh\");",
        "  final TransformerEncoderLayer held = new TransformerEncoderLayer(8, 2, 16, 0.0, ACT, 1e-5, true, false);",
        "  final TransformerEncoder weighted = new TransformerEncoder(",
        "      new TransformerEncoderLayer(8, 2, 16, 0.0, new Linear(8, 8), 1e-5, true, false), 1);",
        "  final Transformer t = new Transformer(8, 2, 1, 1, 16, 0.0, new Softmax(-1), 1e-5, true, false);",
        "  @Override public Tensor forward(Tensor x) {",
        "    return t.forward(weighted.apply(held.apply(x)), x);",
        "  }",
        "}");
    Compilation c = compile(f);
    assertThat(c).hadErrorContaining("held: TransformerEncoderLayer's activation ACT must be written in place, \"relu\", \"gelu\""
        + " or a new activation layer (new GELU(\"tanh\"), new SiLU(), ...: ReLU, GELU, SiLU").inFile(f)
        .onLineContaining("final TransformerEncoderLayer held");
    assertThat(c).hadErrorContaining("weighted: TransformerEncoderLayer: activation must be \"relu\", \"gelu\" or a"
        + " parameterless activation layer (ReLU, GELU").inFile(f).onLineContaining("new Linear(8, 8)");
    assertThat(c).hadErrorContaining("t: Transformer: activation must be \"relu\", \"gelu\" or a parameterless activation"
        + " layer (ReLU, GELU, SiLU, Mish, Tanh, Sigmoid, LeakyReLU, ELU, CELU, SELU, ReLU6, Hardtanh, Hardswish, Hardsigmoid,"
        + " LogSigmoid, Softplus, Softsign, Tanhshrink, Identity), not Softmax(dim=-1)").inFile(f).onLineContaining("new Softmax(-1)");
  }
}
