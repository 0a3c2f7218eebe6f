package dev.kiln.processor;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.testing.compile.Compilation;
import dev.kiln.dsl.CrossEntropyLoss;
import dev.kiln.dsl.MSELoss;
import dev.kiln.dsl.Module;
import dev.kiln.runtime.Device;
import dev.kiln.runtime.Kiln;
import dev.kiln.runtime.Tensor;
import java.util.Map;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * The test models with residual adds, concatenation and average pooling (one through a method of
 * several outputs), attention (batched products, transposes, scales), position tables and causal
 * masks (tensor fields of the model), token ids (an Embedding first), subtractions, divisions, sums and
 * means (a mean-pooling classifier, centred and gated maps), ELU, softplus and hardtanh (ReLU6, hardswish, Mish, SELU, CELU and the rest of eager mode's ActivationCodeKernels), constant padding before a cat (a U-Net's odd-sized skip), reflection, replication and circular padding, normalize along several dimensions, logsumexp, norm, cumsum, flip, repeat, unbind and cosine similarity, group and instance norm, recurrent layers (an LSTM text classifier with
 * dropout between its layers, a bidirectional GRU, RNNs read by select and narrow), compiled and run on
 * CUDA (their {@code forwardCuda}), against their eager declarations on the CPU: output, loss,
 * input (but ids) and parameter gradients to 1e-4 relative; a token table and its gradient never
 * read on the host, its padding row without gradient; methods of several inputs (two towers, a padding mask); masks
 * computed in forward (a causal mask in a local, a padding mask from ids, masked mean pooling).
 * Needs a GPU: tagged cuda.
 */
@Tag("cuda")
class CudaCompiledTest {
  @ParameterizedTest
  @CsvSource({
    "Residual, 4:6:6",
    "Pools, 3:9:11",
    "SequenceCnn, 4:32",
    "MobileBlock, 8:12:12",
    "DilatedSequence, 4:32",
    "Inception, 3:8:8",
    "HiddenResidual, 6",
    "SplitHeads, 12",
    "Broadcasts, 4:6:6",
    "SqueezeExcite, 3:6:6",
    "MnistExample, 1:12:12",
    "GeluMlp, 6",
    "GeluTanhMlp, 6",
    "PiecewiseMlp, 6",
    "MoreActivations, 6",
    "ShuffleGates, 8:4:4",
    "PReluNet, 4:5:5",
    "PReluSequence, 4:7",
    "PaddedUnet, 2:7:7",
    "PaddedMaps, 2:5:6",
    "NormalizedHeads, 4:6",
    "EmbeddingNet, 6",
    "InputPads, 3:5",
    "InputNormalized, 5",
    "LineOps, 4:6",
    "FlipsAndRepeats, 4:6",
    "UnboundRows, 3:6",
    "CosineHeads, 4:6",
    "InputLineOps, 4:6",
    "CosineQueries, 4:6",
    "CosinePrototypes, 6",
    "Decoder, 4:3:3",
    "GroupedDecoder, 4:5:5",
    "FunctionalConv, 3:8:8",
    "FunctionalGroupNorm, 4:5:5",
    "MathPairs, 6",
    "ExtremaNorms, 3:8",
    "RollExtrema, 3:4:8",
    "FieldPairs, 4:6",
    "TrackedInstanceNorms, 3:8",
    "WideDecoder, 3:4:4",
    "ConvBlocks, 4:5:5",
    "TokenMlp, 6:8",
    "TinyUnet, 2:8:8",
    "Attention, 6:8",
    "MultiHeadAttention, 6:8",
    "ProductEdges, 6:8",
    "CausalBlock, 6:8",
    "FusedQkvBlock, 6:8",
    "SelfAttentionLayers, 6:8",
    "EncoderStacks, 6:8",
    "CausalSdpa, 6:8",
    "MaskedEncoder, 6:8",
    "DropoutEncoder, 6:8",
    "CrossAttention, 6:8",
    "EncoderDecoder, 6:8",
    "CausalDecoderLayer, 6:8",
    "TransformerSeq, 6:8",
    "CustomTransformer, 6:8",
    "SmallTransformer, 4:8",
    "KdimAttention, 6:8",
    "AttentionWeights, 6:8",
    "AttentionRuns, 6:8",
    "CausalTransformer, 6:8",
    "MaskedExtraKeys, 6:8",
    "ActivationLayers, 6:8",
    "GatedPieces, 4:16",
    "PositionTable, 6:8",
    "TinyGpt, ids11:6",
    "MeanPool, ids11:6",
    "CenteredGates, 3:6:6",
    "MapReductions, 3:6:5",
    "TextLstm, ids11:6",
    "BiGru, 7:5",
    "SeqRnn, 6:4",
    "LstmLastState, 6:5",
    "TutorialLstm, 6:5",
    "TutorialGru, 7:5",
    "BiGruStates, 7:5",
    "CellStates, 6:4",
    "Seq2SeqGru, 6:5",
    "Seq2SeqLstm, 6:5",
    "StateFromFeatures, 6:5",
    "LayerStates, 6:5",
    "MixedStates, 6:5",
    "SharedState, 6:5",
    "FieldProducts, 6:8",
    "TokenMixer, 6:8",
    "TransposedRows, 8:6",
    "CausalLocal, 6:8",
    "Blocks, 6:8",
    "BlockLoops, 4",
    "OwnMethods, 6:8",
    "SequentialLoops, 6",
    "DerivedBlocks, 6",
    "InheritedFields, 6:8",
    "EarlyExits, 6",
    "WhileLoops, 6",
    "PaddedText, ids11:6",
    "PaddedMeanPool, ids11:6",
    "ActivationMasks, 4:8",
    "SlicedMasks, 6:8",
    "RuntimeSizes, 6:8",
    "ExpressionSizes, 6:8",
    "SizedModes, 6",
    "WhereBroadcasts, 4:8",
    "PositionGpt, ids11:6",
    "PositionRows, 5:4",
    "BagText, ids11:5",
    "SlicedParameters, 6:8",
    "GatheredParameters, 6:8",
    "BufferThresholds, 6:8",
    "WhereFields, 6:8",
    "WhereFieldOperands, 6:8",
    "SelfProducts, 6:8",
    "NegativeZeroFields, 6:8",
    "GreedyIds, 6:8",
    "ScatterWrites, 6",
    "IndexSelects, 6",
    "BufferIndexes, 6",
    "BufferPositions, ids11:6",
    "BroadcastIds, ids11:8",
    "SummedIds, ids11:8",
    "ShiftedIds, ids11:6",
    "GreedyShift, 6:8",
    "ShiftedPositions, ids11:6",
    "MovedIds, ids11:8",
    "IdsWithPositions, ids11:6",
    "IdsOfIds, ids11:6",
    "NearestCode, 6:8",
    "TiedNearestCode, 6:8",
    "ManyReaders, 6",
    "TopIds, 6:8",
    "StridedParameters, 6:8",
    "WhereOfBuffers, 6:8",
    "WhereOfParameters, 6:8",
    "GroupNormNet, 3:6:6",
    "RmsNormMlp, 4:8",
    "PointwiseOps, 6",
    "ZooVit, 3:16:16",
    "ZooSimpleVit, 3:16:16",
    "ZooAttentionPool, 6:32",
  })
  void compiledOnCudaMatchesEagerOnTheCpu(String model, String sampleShape) {
    Compilation c = ProcessorTest.compile(ProcessorTest.model(model));
    ClassLoader loader = new ParityTest.CompiledClasses(c);
    // "ids11:6": token ids below 11, [N, 6] (an Embedding first: no input gradient)
    int vocabulary = sampleShape.startsWith("ids") ? Integer.parseInt(sampleShape.substring(3, sampleShape.indexOf(':'))) : 0;
    String[] dims = sampleShape.substring(vocabulary > 0 ? sampleShape.indexOf(':') + 1 : 0).split(":");
    int[] shape = new int[dims.length + 1];
    shape[0] = 5;
    for (int i = 0; i < dims.length; i++) {
      shape[i + 1] = Integer.parseInt(dims[i]);
    }
    Kiln.manualSeed(11);
    Module eager = ParityTest.factory(loader, "test." + model).get();
    Kiln.manualSeed(11);
    Module compiled = ParityTest.factory(loader, "test.Kiln" + model).get().to(Device.cuda());
    Kiln.manualSeed(3);
    Tensor xe;
    Tensor xc;
    if (vocabulary > 0) {
      xe = ParityTest.ids(5, shape[1], vocabulary);
      xc = xe.to(Device.cuda());
    } else {
      float[] values = Tensor.randn(shape).toFloatArray();
      xe = Tensor.of(values, shape).requiresGrad(true);
      xc = Tensor.of(values, shape).to(Device.cuda()).requiresGrad(true);
    }
    Tensor y = Tensor.labels(0, 2, 1, 1, 0);
    Kiln.manualSeed(100); // the same dropout masks on both devices (CUDA's draws from the same counter-based stream)
    Tensor outE = eager.forward(xe);
    Kiln.manualSeed(100);
    Tensor outC = compiled.forward(xc);
    assertTrue(outC.device().isCuda(), model + ": output on " + outC.device());
    assertArrayEquals(outE.shape(), outC.shape());
    ParityTest.assertClose(model + " output", outC.toFloatArray(), outE.toFloatArray(), 1e-4);
    Tensor lossE = new CrossEntropyLoss().apply(outE, y);
    Tensor lossC = new CrossEntropyLoss().apply(outC, y.to(Device.cuda()));
    assertEquals(lossE.item(), lossC.item(), 1e-4 * Math.max(1, Math.abs(lossE.item())), model + " loss");
    lossE.backward();
    lossC.backward();
    if (vocabulary > 0) { // the token table and its gradient stay on the device: its lookup and scatter are device kernels
      Map<String, Tensor> tables = compiled.namedParameters();
      Tensor table = tables.getOrDefault("tok.weight", tables.getOrDefault("wte.weight", tables.get("mean.weight"))); // (PositionGpt,
      // BagText: a bag's padding row gets no gradient either)
      if (tables.containsKey("wpe.weight")) { // the positions' table too, looked up at ids built in forward
        assertFalse(tables.get("wpe.weight").isHeapCurrent(), model + ": the position table was read on the host");
        assertFalse(tables.get("wpe.weight").grad().isHeapCurrent(), model + ": the position table's gradient was read on the host");
      }
      assertFalse(table.isHeapCurrent(), model + ": the token table was read on the host");
      assertFalse(table.grad().isHeapCurrent(), model + ": the token table's gradient was made or read on the host");
      float[] padding = table.grad().toFloatArray(); // row 0 is TinyGpt's padding row, and id 0 is among the ids
      for (int j = 0; j < table.size(1); j++) {
        assertEquals(0f, padding[j], model + ": the padding row got a gradient");
      }
    }
    if (vocabulary == 0) {
      ParityTest.assertClose(model + " input gradient", xc.grad().toFloatArray(), xe.grad().toFloatArray(), 1e-4);
    }
    Map<String, Tensor> cp = compiled.namedParameters();
    eager.namedParameters().forEach((k, v) -> {
      if (v.grad() == null) { // a head forward does not use (HiddenResidual's aux)
        assertTrue(cp.get(k).grad() == null, model + " " + k + " has a gradient on CUDA only");
      } else {
        closeAbove(model + " " + k + " gradient", cp.get(k).grad().toFloatArray(), v.grad().toFloatArray());
      }
    });
  }

  /**
   * The tutorials' network by hand ({@code x @ w1}, ReLU, {@code @ w2}) on CUDA, each product one cuBLAS GEMM
   * over the batch's rows: the eager CPU's output, mean squared error and gradients (input and both weights).
   */
  @Test
  void theTutorialsNetworkByHandOnCudaMatchesEagerOnTheCpu() {
    Compilation c = ProcessorTest.compile(ProcessorTest.model("ByHand"));
    ClassLoader loader = new ParityTest.CompiledClasses(c);
    Kiln.manualSeed(11);
    Module eager = ParityTest.factory(loader, "test.ByHand").get();
    Kiln.manualSeed(11);
    Module compiled = ParityTest.factory(loader, "test.KilnByHand").get().to(Device.cuda());
    float[] values = {1, 2, 3, 4, 5, 6, 7, 8};
    Tensor xe = Tensor.of(values, 4, 2).requiresGrad(true);
    Tensor xc = Tensor.of(values, 4, 2).to(Device.cuda()).requiresGrad(true);
    Tensor y = Tensor.of(new float[] {3, 7, 11, 15}, 4, 1);
    Tensor outE = eager.forward(xe);
    Tensor outC = compiled.forward(xc);
    assertTrue(outC.device().isCuda(), "output on " + outC.device());
    ParityTest.assertClose("output", outC.toFloatArray(), outE.toFloatArray(), 1e-5);
    Tensor lossE = new MSELoss().apply(outE, y);
    Tensor lossC = new MSELoss().apply(outC, y.to(Device.cuda()));
    assertEquals(lossE.item(), lossC.item(), 1e-5 * lossE.item(), "loss");
    lossE.backward();
    lossC.backward();
    ParityTest.assertClose("input gradient", xc.grad().toFloatArray(), xe.grad().toFloatArray(), 1e-5);
    Map<String, Tensor> cp = compiled.namedParameters();
    eager.namedParameters().forEach((k, v) -> closeAbove(k + " gradient", cp.get(k).grad().toFloatArray(), v.grad().toFloatArray()));
  }

  /**
   * A method of several inputs on CUDA (its {@code forwardCuda(x, x1, ...)}, every input moved to the device as x is;
   * with several outputs, {@code forwardPairCuda(x, x1)} and one loss on every output):
   * the eager CPU's output, every parameter's gradient and each float input's; a padding mask input gets none, nor do
   * ids an Embedding looks up (its CUDA form the eager layer on the tape), which must be a label tensor there too.
   *
   * @param vocabularies per parameter, an Embedding's rows where the input holds ids, else 0; "-" for none
   */
  @ParameterizedTest
  @CsvSource({
    "TwoTower, forwardPair, false, -",
    "MaskedAttention, forwardMasked, true, -",
    "CausalLocal, forwardPadded, true, -",
    "PaddedEncoder, forwardPadded, false, -",
    "PaddedTransformer, forwardPadded, false, -",
    "PaddedDecoder, forwardPadded, false, -",
    "MaskedExtraKeys, forwardPadded, false, -",
    "KdimAttention, forwardPadded, false, -",
    "Recommender, forwardPair, false, 7:9",
    "CrossRecommender, forwardPair, false, 7:9",
    "TaggedImage, forwardTagged, false, 0:5:8",
    "BaggedTags, forwardTagged, false, 0:5:8",
    "ScatteredTags, forwardTagged, false, 0:8",
    "OneIdRecommender, forwardPair, false, 0:9",
    "PairEmbeddings, forwardPair, false, -",
    "MaskedTokens, forwardMasked, true, -",
    "StateInput, forwardFrom, false, -",
  })
  void severalInputsOnCudaMatchEagerOnTheCpu(String model, String methodName, boolean masks, String vocabularies)
      throws ReflectiveOperationException {
    Compilation c = ProcessorTest.compile(ProcessorTest.model(model));
    ClassLoader loader = new ParityTest.CompiledClasses(c);
    Kiln.manualSeed(11);
    Module eager = ParityTest.factory(loader, "test." + model).get();
    Kiln.manualSeed(11);
    Module compiled = ParityTest.factory(loader, "test.Kiln" + model).get().to(Device.cuda());
    java.lang.reflect.Method method = java.util.Arrays.stream(eager.getClass().getMethods())
        .filter(m -> m.getName().equals(methodName)).findFirst().orElseThrow();
    java.lang.reflect.Parameter[] params = method.getParameters();
    int[] sample = eager.getClass().getAnnotation(dev.kiln.dsl.Model.class).input();
    int[] vocabulary = vocabularies.equals("-") ? new int[params.length]
        : java.util.Arrays.stream(vocabularies.split(":")).mapToInt(Integer::parseInt).toArray();
    Kiln.manualSeed(3);
    Object[] inputsE = new Object[params.length];
    Object[] inputsC = new Object[params.length];
    for (int i = 0; i < params.length; i++) {
      int[] own = i == 0 ? sample : params[i].getAnnotation(dev.kiln.dsl.Input.class).value();
      int[] shape = new int[own.length + 1];
      shape[0] = 5;
      System.arraycopy(own, 0, shape, 1, own.length);
      if (vocabulary[i] > 0) { // ids, the padding row's among them
        Tensor ids = ParityTest.ids(5, shape.length == 2 ? shape[1] : 1, vocabulary[i]).reshape(shape);
        inputsE[i] = ids;
        inputsC[i] = ids.to(Device.cuda());
      } else if (masks && i > 0) { // 1 for each sample's first 1 + (b % length) tokens
        float[] m = new float[5 * own[0]];
        for (int b = 0; b < 5; b++) {
          for (int t = 0; t <= b % own[0]; t++) {
            m[b * own[0] + t] = 1f;
          }
        }
        inputsE[i] = Tensor.of(m, shape);
        inputsC[i] = Tensor.of(m, shape).to(Device.cuda());
      } else {
        float[] values = Tensor.randn(shape).toFloatArray();
        inputsE[i] = Tensor.of(values, shape).requiresGrad(true);
        inputsC[i] = Tensor.of(values, shape).to(Device.cuda()).requiresGrad(true);
      }
    }
    // (several outputs: a record's components or an array's elements, one loss on all of them)
    Kiln.manualSeed(100); // the same dropout masks on both devices (MaskedExtraKeys, KdimAttention drop in training)
    java.util.List<Tensor> outE = ParityTest.tensorsOf(method.invoke(eager, inputsE));
    Kiln.manualSeed(100);
    java.util.List<Tensor> outC = ParityTest.tensorsOf(method.invoke(compiled, inputsC));
    Tensor lossE = null;
    Tensor lossC = null;
    for (int o = 0; o < outE.size(); o++) {
      assertTrue(outC.get(o).device().isCuda(), model + ": output " + o + " on " + outC.get(o).device());
      ParityTest.assertClose(model + " output " + o, outC.get(o).toFloatArray(), outE.get(o).toFloatArray(), 1e-4);
      Tensor y = Tensor.randn(outE.get(o).shape());
      Tensor termE = new MSELoss().apply(outE.get(o), y);
      Tensor termC = new MSELoss().apply(outC.get(o), y.to(Device.cuda()));
      lossE = lossE == null ? termE : lossE.add(termE);
      lossC = lossC == null ? termC : lossC.add(termC);
    }
    lossE.backward();
    lossC.backward();
    for (int i = 0; i < params.length; i++) {
      Tensor ge = ((Tensor) inputsE[i]).grad();
      Tensor gc = ((Tensor) inputsC[i]).grad();
      assertEquals(ge == null, gc == null, model + " input " + i + ": a gradient on one device only");
      if (ge != null) {
        ParityTest.assertClose(model + " input " + i + " gradient", gc.toFloatArray(), ge.toFloatArray(), 1e-4);
      }
    }
    Map<String, Tensor> cp = compiled.namedParameters();
    eager.namedParameters().forEach((k, v) -> {
      if (v.grad() == null) { // forward's own head, which the method does not use
        assertTrue(cp.get(k).grad() == null, model + " " + k + " has a gradient on CUDA only");
      } else {
        closeAbove(model + " " + k + " gradient", cp.get(k).grad().toFloatArray(), v.grad().toFloatArray());
      }
    });
    int last = params.length - 1;
    if (vocabulary[last] > 0) { // float values where ids are expected: refused on the device as on the CPU
      int[] shape = ((Tensor) inputsC[last]).shape();
      inputsC[last] = Tensor.ones(shape).to(Device.cuda());
      var e = assertThrows(java.lang.reflect.InvocationTargetException.class, () -> method.invoke(compiled, inputsC));
      assertTrue(e.getCause().getMessage().startsWith("Kiln" + model + "." + methodName + ": "), e.getCause().getMessage());
      assertTrue(e.getCause().getMessage().contains(" holds ids (an Embedding looks them up), so it must be a label tensor"),
          e.getCause().getMessage());
    }
  }

  /**
   * A tied weight on the device (TiedGpt: {@code wte.weight(lmHead.weight())}): {@code to(cuda)} keeps the one tensor,
   * the compiled forward and backward on CUDA give eager's CPU logits and the sum of both uses' gradients, and AdamW
   * steps on the device keep the two layers equal.
   */
  @Test
  void aTiedWeightOnCudaMatchesEagerOnTheCpu() {
    ClassLoader loader = new ParityTest.CompiledClasses(ProcessorTest.compile(ProcessorTest.model("TiedGpt")));
    Kiln.manualSeed(11);
    Module eager = ParityTest.factory(loader, "test.TiedGpt").get();
    Kiln.manualSeed(11);
    Module compiled = ParityTest.factory(loader, "test.KilnTiedGpt").get().to(Device.cuda());
    Map<String, Tensor> cp = compiled.namedParameters();
    Tensor table = cp.get("wte.weight");
    assertTrue(table.device().isCuda());
    assertTrue(table == compiled.getSubmodule("lmHead").namedParameters().get("weight"), "to(cuda) untied the weight");
    Kiln.manualSeed(3);
    Tensor ids = ParityTest.ids(5, 6, 11);
    Tensor y = ParityTest.ids(5, 6, 11).reshape(-1);
    Tensor outE = eager.forward(ids);
    Tensor outC = compiled.forward(ids.to(Device.cuda()));
    assertTrue(outC.device().isCuda());
    ParityTest.assertClose("TiedGpt logits", outC.toFloatArray(), outE.toFloatArray(), 1e-4);
    new CrossEntropyLoss().apply(outE.view(-1, 11), y).backward();
    new CrossEntropyLoss().apply(outC.view(-1, 11), y.to(Device.cuda())).backward();
    eager.namedParameters().forEach((k, v) ->
        closeAbove("TiedGpt " + k + " gradient", cp.get(k).grad().toFloatArray(), v.grad().toFloatArray()));
    var opt = new dev.kiln.runtime.optim.AdamW(compiled.parameters(), 0.01);
    for (int step = 0; step < 3; step++) {
      opt.zeroGrad();
      new CrossEntropyLoss().apply(compiled.forward(ids.to(Device.cuda())).view(-1, 11), y.to(Device.cuda())).backward();
      opt.step();
    }
    Map<String, Tensor> state = compiled.stateDict();
    assertArrayEquals(state.get("wte.weight").toFloatArray(), state.get("lmHead.weight").toFloatArray());
  }

  /**
   * Gradient accumulation on the device: three backwards without zeroGrad, then zeroGrad (zeros on the device, written
   * directly) and three more, each backward's total added to the gradient there ({@code grad + (g1 + g2)}): the eager
   * CPU's accumulated gradients, the gradient tensors kept.
   */
  @ParameterizedTest
  @CsvSource({"Mlp, 1:28:28", "SmallCnn, 1:8:8", "TinyGpt, ids11:6", "TextLstm, ids11:6", "BagText, ids11:5"})
  void accumulatedGradientsOnCudaMatchEagerOnTheCpu(String model, String sampleShape) {
    ClassLoader loader = new ParityTest.CompiledClasses(ProcessorTest.compile(ProcessorTest.model(model)));
    int vocabulary = sampleShape.startsWith("ids") ? Integer.parseInt(sampleShape.substring(3, sampleShape.indexOf(':'))) : 0;
    String sample = vocabulary > 0 ? sampleShape.substring(sampleShape.indexOf(':') + 1) : sampleShape;
    int[] shape = java.util.Arrays.stream(("5:" + sample).split(":")).mapToInt(Integer::parseInt).toArray();
    Kiln.manualSeed(11);
    Module eager = ParityTest.factory(loader, "test." + model).get();
    Kiln.manualSeed(11);
    Module compiled = ParityTest.factory(loader, "test.Kiln" + model).get().to(Device.cuda());
    Tensor y = Tensor.labels(0, 2, 1, 1, 0);
    Map<String, Tensor> cp = compiled.namedParameters();
    Map<String, Tensor> kept = new java.util.HashMap<>();
    Kiln.manualSeed(3);
    for (int round = 0; round < 2; round++) {
      for (int micro = 0; micro < 3; micro++) {
        Tensor x = vocabulary > 0 ? ParityTest.ids(shape[0], shape[1], vocabulary) : Tensor.randn(shape);
        Kiln.manualSeed(100 + micro); // the same dropout masks on both devices
        new CrossEntropyLoss().apply(eager.forward(x), y).backward();
        Kiln.manualSeed(100 + micro);
        new CrossEntropyLoss().apply(compiled.forward(x.to(Device.cuda())), y.to(Device.cuda())).backward();
        if (round == 0 && micro == 0) {
          cp.forEach((k, v) -> kept.put(k, v.grad()));
        }
      }
      String at = model + " round " + round + " ";
      eager.namedParameters().forEach((k, v) -> {
        assertTrue(cp.get(k).grad() == kept.get(k), at + k + ": the gradient tensor was replaced");
        float[] expected = v.grad().toFloatArray();
        float[] actual = cp.get(k).grad().toFloatArray();
        if (norm(expected) < 1e-5) {
          // rounding noise alone (SmallCnn's fc1.bias right before a batch norm, which cancels it): near zero on both
          assertTrue(norm(actual) < 1e-5, at + k + ": a gradient of noise on the CPU is " + norm(actual) + " on CUDA");
        } else {
          closeAbove(at + k + " gradient", actual, expected);
        }
      });
      eager.zeroGrad();
      compiled.zeroGrad();
    }
  }

  private static double norm(float[] values) {
    double sum = 0;
    for (float v : values) {
      sum += (double) v * v;
    }
    return Math.sqrt(sum);
  }

  /**
   * Relative error under 1e-4 of a norm at least 1e-3: a convolution's bias right before a batch
   * norm (Inception's b1, b3) has a gradient of rounding noise alone (the normalisation cancels it),
   * which differs with the order of the sums between devices.
   */
  private static void closeAbove(String what, float[] actual, float[] expected) {
    double diff = 0, norm = 0;
    for (int i = 0; i < expected.length; i++) {
      diff += Math.pow(actual[i] - expected[i], 2);
      norm += Math.pow(expected[i], 2);
    }
    double err = Math.sqrt(diff) / Math.max(Math.sqrt(norm), 1e-3);
    assertTrue(err < 1e-4, what + ": relative error " + err + " (norm " + Math.sqrt(norm) + ")");
  }
}
