package dev.kiln.processor;

import static com.google.testing.compile.CompilationSubject.assertThat;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.testing.compile.Compilation;
import dev.kiln.dsl.CrossEntropyLoss;
import dev.kiln.dsl.Module;
import dev.kiln.runtime.Kiln;
import dev.kiln.runtime.Tensor;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The dsl's attention layers compiled (MultiheadAttention, TransformerEncoderLayer, TransformerEncoder,
 * F.scaledDotProductAttention; docs/design-notes.md, "Compiled attention layers") against eager mode: in training and in
 * evaluation, the output, the input's and every parameter's gradient within ParityTest's tolerance; PyTorch's state-dict
 * keys, one checkpoint loading into either form.
 */
class AttentionLayersCompiledTest {
  /** Eager and compiled {@code name} from one seed (the same parameters). */
  static Module[] models(String name) {
    Compilation c = ProcessorTest.compile(ProcessorTest.model(name));
    assertThat(c).succeededWithoutWarnings();
    ClassLoader loader = new ParityTest.CompiledClasses(c);
    Kiln.manualSeed(11);
    Module eager = ParityTest.factory(loader, "test." + name).get();
    Kiln.manualSeed(11);
    Module compiled = ParityTest.factory(loader, "test.Kiln" + name).get();
    return new Module[] {eager, compiled};
  }

  /** One forward and backward of {@code model} in its mode, the dropout draws from seed 100; the output and input gradient. */
  private static Tensor[] step(Module model, float[] values, int... labels) {
    model.zeroGrad(true);
    Tensor x = Tensor.of(values, 5, 6, 8).requiresGrad(true);
    Kiln.manualSeed(100);
    Tensor out = model.forward(x);
    new CrossEntropyLoss().apply(out, Tensor.labels(labels)).backward();
    return new Tensor[] {out, x.grad()};
  }

  @ParameterizedTest
  @ValueSource(strings = {"SelfAttentionLayers", "EncoderStacks", "CausalSdpa", "MaskedEncoder", "DropoutEncoder", "CrossAttention",
      "EncoderDecoder", "DropoutDecoder", "TransformerSeq", "CustomTransformer", "KdimAttention",
      "AttentionWeights", "AttentionRuns", "CausalTransformer", "MaskedExtraKeys", "ActivationLayers"})
  void trainingAndEvaluationGiveEagerValuesAndGradients(String name) {
    Module[] m = models(name);
    Kiln.manualSeed(3);
    for (String mode : List.of("train", "eval", "train")) {
      float[] values = Tensor.randn(5, 6, 8).toFloatArray();
      Tensor[][] r = new Tensor[2][];
      for (int i = 0; i < 2; i++) {
        m[i].train(mode.equals("train"));
        r[i] = step(m[i], values, 0, 2, 1, 1, 0);
      }
      ParityTest.assertClose(mode + ": output", r[1][0].toFloatArray(), r[0][0].toFloatArray(), 1e-5);
      ParityTest.assertClose(mode + ": input gradient", r[1][1].toFloatArray(), r[0][1].toFloatArray(), 1e-5);
      ParityTest.assertParameterGradients(mode, m[0], m[1], 1e-5);
    }
  }

  /**
   * MultiheadAttention's kdim/vdim, add_bias_kv and add_zero_attn with both key padding masks (further inputs, padded for
   * the keys appended; MaskedExtraKeys with held attn_masks and the causal mask too, padded alike): in training (dropout
   * 0.1 on one layer's weights, drawn from one seed) and evaluation, the output, the input's and the masks' gradients and
   * every parameter's within 1e-5 of eager's.
   */
  @ParameterizedTest
  @ValueSource(strings = {"KdimAttention", "MaskedExtraKeys"})
  void kdimBiasKvAndZeroAttnWithPaddingMasksGiveEagerValuesAndGradients(String name) throws ReflectiveOperationException {
    Module[] m = models(name);
    Kiln.manualSeed(3);
    for (String mode : List.of("train", "eval")) {
      Tensor[] shapes = {Tensor.randn(5, 6, 8), Tensor.randn(5, 6), Tensor.randn(5, 3)};
      Tensor[][] r = new Tensor[2][];
      for (int i = 0; i < 2; i++) {
        m[i].train(mode.equals("train"));
        m[i].zeroGrad(true);
        Tensor[] in = new Tensor[3];
        for (int j = 0; j < 3; j++) {
          in[j] = Tensor.of(shapes[j].toFloatArray(), shapes[j].shape()).requiresGrad(true);
        }
        Kiln.manualSeed(100);
        Tensor out = (Tensor) m[i].getClass().getMethod("forwardPadded", Tensor.class, Tensor.class, Tensor.class)
            .invoke(m[i], (Object[]) in);
        new CrossEntropyLoss().apply(out, Tensor.labels(0, 2, 1, 1, 0)).backward();
        r[i] = new Tensor[] {out, in[0].grad(), in[1].grad(), in[2].grad()};
      }
      for (int j = 0; j < 4; j++) {
        ParityTest.assertClose(mode + ": " + List.of("output", "x gradient", "pad gradient", "memoryPad gradient").get(j),
            r[1][j].toFloatArray(), r[0][j].toFloatArray(), 1e-5);
      }
      ParityTest.assertParameterGradients(mode, m[0], m[1], 1e-5);
    }
  }

  /** PyTorch's keys of kdim/vdim and add_bias_kv (q_proj_weight, k_proj_weight, bias_k), one checkpoint for both forms. */
  @Test
  void kdimKeysArePyTorchsAndLoadEitherWay() {
    keysLoadEitherWay("KdimAttention", "cross.k_proj_weight", "cross.q_proj_weight", "cross.v_proj_weight", "cross.bias_k",
        "cross.bias_v", "extra.in_proj_weight", "extra.bias_k", "cross.in_proj_bias");
  }

  /** Dropout 0.1 (PyTorch's default) is on in training, in the compiled form too, and off in evaluation. */
  @Test
  void dropoutIsOnInTrainingOnly() {
    Module compiled = models("DropoutEncoder")[1];
    float[] values = Tensor.randn(5, 6, 8).toFloatArray();
    compiled.eval();
    float[] evaluated = step(compiled, values, 0, 1, 2, 0, 1)[0].toFloatArray();
    assertArrayEquals(evaluated, step(compiled, values, 0, 1, 2, 0, 1)[0].toFloatArray(), "evaluation draws nothing");
    compiled.train();
    float[] trained = step(compiled, values, 0, 1, 2, 0, 1)[0].toFloatArray();
    assertTrue(ParityTest.relativeError(trained, evaluated) > 1e-3, "training drops");
  }

  /** PyTorch's keys (in_proj_weight, out_proj, layers.0.self_attn, linear1, norm1), one checkpoint for both forms. */
  @Test
  void stateDictKeysArePyTorchsAndLoadEitherWay() {
    keysLoadEitherWay("EncoderStacks", "pre.layers.0.self_attn.in_proj_weight", "post.layers.0.self_attn.in_proj_weight",
        "post.layers.0.self_attn.in_proj_bias", "post.layers.1.self_attn.out_proj.weight", "post.layers.0.linear1.weight",
        "post.layers.1.linear2.bias", "post.layers.0.norm1.weight", "pre.layers.1.norm2.bias", "pre.norm.weight");
  }

  /** The decoder's keys (self_attn, multihead_attn, norm3, layers.N, norm) are PyTorch's too, one checkpoint for both forms. */
  @Test
  void decoderKeysArePyTorchsAndLoadEitherWay() {
    keysLoadEitherWay("EncoderDecoder", "dec.layers.1.multihead_attn.in_proj_weight", "dec.layers.0.self_attn.in_proj_weight",
        "dec.layers.0.multihead_attn.in_proj_bias", "dec.layers.1.multihead_attn.out_proj.weight", "dec.layers.0.norm3.bias",
        "dec.layers.1.linear2.weight", "dec.norm.weight", "pre.multihead_attn.out_proj.bias", "pre.norm3.weight",
        "enc.layers.0.self_attn.in_proj_weight");
  }

  /** The generated code of the smallest Transformer: the encoder's and the decoder's steps in turn (docs/generated-code.md). */
  @Test
  void smallTransformerGeneratesItsGolden() throws java.io.IOException {
    Compilation c = ProcessorTest.compile(ProcessorTest.model("SmallTransformer"));
    assertThat(c).succeededWithoutWarnings();
    ProcessorTest.assertGolden(c, "KilnSmallTransformer", "KilnSmallTransformer.java");
  }

  /**
   * nn.Transformer's keys (encoder.layers.N, encoder.norm, decoder.layers.N.multihead_attn, decoder.norm), one checkpoint
   * for both forms; a custom encoder and decoder keep theirs (no decoder.norm).
   */
  @Test
  void transformerKeysArePyTorchsAndLoadEitherWay() {
    keysLoadEitherWay("TransformerSeq", "transformer.decoder.layers.0.multihead_attn.in_proj_weight",
        "transformer.encoder.layers.0.self_attn.in_proj_weight", "transformer.encoder.layers.1.linear2.bias",
        "transformer.encoder.norm.weight", "transformer.decoder.layers.0.self_attn.out_proj.weight",
        "transformer.decoder.layers.0.norm3.bias", "transformer.decoder.norm.bias");
    keysLoadEitherWay("CustomTransformer", "transformer.encoder.layers.0.self_attn.in_proj_weight",
        "transformer.encoder.norm.weight", "transformer.decoder.layers.1.multihead_attn.in_proj_bias");
    assertTrue(!models("CustomTransformer")[1].stateDict().containsKey("transformer.decoder.norm.weight"));
  }

  /**
   * {@code name}'s compiled state dict has eager's keys in eager's order, {@code keys} among them; a checkpoint of other
   * values loads into both, which then agree, {@code keys[0]} read back as loaded.
   */
  private static void keysLoadEitherWay(String name, String... expected) {
    Module[] m = models(name);
    Map<String, Tensor> keys = m[1].stateDict();
    assertEquals(List.copyOf(m[0].stateDict().keySet()), List.copyOf(keys.keySet()));
    for (String key : expected) {
      assertTrue(keys.containsKey(key), key + " in " + keys.keySet());
    }
    Kiln.manualSeed(5);
    Map<String, Tensor> checkpoint = new java.util.LinkedHashMap<>(); // other values than either model's
    keys.forEach((k, v) -> checkpoint.put(k, k.endsWith("causal") ? v : Tensor.randn(v.shape()).mul(0.5f)));
    m[0].loadStateDict(checkpoint);
    m[1].loadStateDict(checkpoint);
    m[0].eval();
    m[1].eval();
    Tensor x = Tensor.randn(3, 6, 8);
    try (var g = Kiln.noGrad()) {
      ParityTest.assertClose("loaded", m[1].forward(x).toFloatArray(), m[0].forward(x).toFloatArray(), 1e-5);
    }
    assertArrayEquals(checkpoint.get(expected[0]).toFloatArray(), m[1].stateDict().get(expected[0]).toFloatArray());
  }
}
