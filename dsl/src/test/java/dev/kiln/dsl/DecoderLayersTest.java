package dev.kiln.dsl;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.kiln.runtime.Kiln;
import dev.kiln.runtime.Tensor;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@link MultiheadAttention} with kdim/vdim, add_bias_kv and add_zero_attn, {@link TransformerDecoderLayer},
 * {@link TransformerDecoder} and {@link Transformer} against PyTorch 1.13 (decoder/reference.txt from
 * make_reference.py): parameters loaded by PyTorch's state-dict keys (which must be Kiln's, in order), then the
 * outputs, attention weights, and the gradients of the inputs and of every parameter; PyTorch's initialisation, reprs,
 * dropout in training only, and the errors' messages.
 */
class DecoderLayersTest {
  private static final TorchReference REF = new TorchReference("/decoder/reference.txt");
  private static final double TOL = 1e-5;

  private static void load(String name, Module m, List<String> torchKeys) {
    REF.load(name, m, torchKeys);
    m.eval();
  }

  private static Tensor input(String key) {
    return REF.copy(key).requiresGrad(true);
  }

  private static List<String> prefixed(String prefix, List<String> keys) {
    List<String> out = new ArrayList<>();
    for (String k : keys) {
      out.add(prefix + k);
    }
    return out;
  }

  // ------------------------------------------------------------------ MultiheadAttention's options

  private static void mhaCase(String name, MultiheadAttention mha, boolean floatAttnMask, boolean average,
      List<String> keys) {
    load(name, mha, keys);
    Tensor q = input(name + ".query");
    Tensor k = input(name + ".key");
    Tensor v = input(name + ".value");
    MultiheadAttention.Output out = mha.forward(q, k, v, REF.mask(name + ".key_padding_mask", true), true,
        REF.mask(name + ".attn_mask", !floatAttnMask), average);
    REF.close(name + ".out", out.output(), TOL);
    REF.close(name + ".weights", out.weights(), TOL);
    TorchReference.attentionLoss(out.output(), out.weights()).backward();
    REF.closeGradients(name, mha, Map.of("query", q, "key", k, "value", v), TOL);
  }

  private static final List<String> SEPARATE_KEYS = List.of("q_proj_weight", "k_proj_weight", "v_proj_weight",
      "in_proj_bias", "out_proj.weight", "out_proj.bias");

  private static final List<String> BIAS_KV_KEYS = List.of("in_proj_weight", "in_proj_bias", "bias_k", "bias_v",
      "out_proj.weight", "out_proj.bias");

  @Test
  void kdimAndVdimAsPyTorch() {
    mhaCase("mha_kv", new MultiheadAttention(8, 2, 0, true, false, false, 5, 3, false), true, true, SEPARATE_KEYS);
  }

  @Test
  void kdimBatchFirstWithoutBiasPerHeadWeightsAsPyTorch() {
    mhaCase("mha_kv_bf", new MultiheadAttention(8, 4, 0, false, false, false, 6, 6, true), false, false,
        List.of("q_proj_weight", "k_proj_weight", "v_proj_weight", "out_proj.weight"));
  }

  @Test
  void biasKvAndZeroAttentionWithMasksAsPyTorch() {
    mhaCase("mha_bias_kv", new MultiheadAttention(8, 2, 0, true, true, true, 8, 8, false), true, true, BIAS_KV_KEYS);
  }

  @Test
  void zeroAttentionWithKdimUnbatchedPerHeadMaskAsPyTorch() {
    mhaCase("mha_zero_kdim", new MultiheadAttention(6, 3, 0, true, false, true, 4, 5, false), false, false,
        SEPARATE_KEYS);
  }

  @Test
  void biasKvUnbatchedAsPyTorch() {
    mhaCase("mha_bias_kv_one", new MultiheadAttention(8, 2, 0, true, true, false, 8, 8, true), true, true,
        BIAS_KV_KEYS);
  }

  /** Boolean masks, both padded with a zero (False) column per key appended, as PyTorch 1.13's F.pad(attn_mask, (0, 1)). */
  @Test
  void biasKvAndZeroAttentionWithBooleanMasksBatchFirstAsPyTorch() {
    mhaCase("mha_bias_kv_bool", new MultiheadAttention(8, 2, 0, true, true, true, 8, 8, true), false, true,
        BIAS_KV_KEYS);
  }

  // ------------------------------------------------------------------ decoder layers

  private static final List<String> MHA_KEYS = List.of("in_proj_weight", "in_proj_bias", "out_proj.weight",
      "out_proj.bias");

  static List<String> decoderLayerKeys(String prefix) {
    List<String> keys = new ArrayList<>(prefixed(prefix + "self_attn.", MHA_KEYS));
    keys.addAll(prefixed(prefix + "multihead_attn.", MHA_KEYS));
    for (String k : List.of("linear1", "linear2", "norm1", "norm2", "norm3")) {
      keys.add(prefix + k + ".weight");
      keys.add(prefix + k + ".bias");
    }
    return keys;
  }

  static List<String> encoderLayerKeys(String prefix) {
    List<String> keys = new ArrayList<>(prefixed(prefix + "self_attn.", MHA_KEYS));
    for (String k : List.of("linear1", "linear2", "norm1", "norm2")) {
      keys.add(prefix + k + ".weight");
      keys.add(prefix + k + ".bias");
    }
    return keys;
  }

  /** Runs a decoder case: the layer (or stack) over the case's target and memory with the masks it has. */
  private static void decoderCase(String name, Module m, List<String> keys) {
    load(name, m, keys);
    Tensor tgt = input(name + ".tgt");
    Tensor memory = input(name + ".memory");
    Tensor[] masks = {REF.mask(name + ".tgt_mask", true), REF.mask(name + ".memory_mask", false),
        REF.mask(name + ".tgt_key_padding_mask", true), REF.mask(name + ".memory_key_padding_mask", true)};
    Tensor out = m instanceof TransformerDecoderLayer layer
        ? layer.forward(tgt, memory, masks[0], masks[1], masks[2], masks[3])
        : ((TransformerDecoder) m).forward(tgt, memory, masks[0], masks[1], masks[2], masks[3]);
    REF.close(name + ".out", out, TOL);
    TorchReference.attentionLoss(out, null).backward();
    REF.closeGradients(name, m, Map.of("tgt", tgt, "memory", memory), TOL);
  }

  @Test
  void decoderLayerPostNormReluSequenceFirstWithPaddingAsPyTorch() {
    decoderCase("dec_post", new TransformerDecoderLayer(8, 2, 16, 0.1), decoderLayerKeys(""));
  }

  @Test
  void decoderLayerPreNormGeluBatchFirstWithMemoryMaskAsPyTorch() {
    decoderCase("dec_pre", new TransformerDecoderLayer(8, 4, 12, 0.1, "gelu", 1e-6, true, true), decoderLayerKeys(""));
  }

  @Test
  void decoderOfTwoLayersAndANormAsPyTorch() {
    TransformerDecoder decoder = new TransformerDecoder(
        new TransformerDecoderLayer(8, 2, 16, 0, "relu", 1e-5, true, false), 2, new LayerNorm(8));
    List<String> keys = new ArrayList<>(decoderLayerKeys("layers.0."));
    keys.addAll(decoderLayerKeys("layers.1."));
    keys.addAll(List.of("norm.weight", "norm.bias"));
    decoderCase("decoder", decoder, keys);
  }

  // ------------------------------------------------------------------ nn.Transformer

  private static List<String> transformerKeys(int encoderLayers, int decoderLayers) {
    List<String> keys = new ArrayList<>();
    for (int i = 0; i < encoderLayers; i++) {
      keys.addAll(encoderLayerKeys("encoder.layers." + i + "."));
    }
    keys.addAll(List.of("encoder.norm.weight", "encoder.norm.bias"));
    for (int i = 0; i < decoderLayers; i++) {
      keys.addAll(decoderLayerKeys("decoder.layers." + i + "."));
    }
    keys.addAll(List.of("decoder.norm.weight", "decoder.norm.bias"));
    return keys;
  }

  private static void transformerCase(String name, Transformer t, List<String> keys) {
    load(name, t, keys);
    Tensor src = input(name + ".src");
    Tensor tgt = input(name + ".tgt");
    Tensor out = t.forward(src, tgt, null, REF.mask(name + ".tgt_mask", true), null, REF.mask(name + ".src_key_padding_mask", true),
        null, REF.mask(name + ".memory_key_padding_mask", true));
    REF.close(name + ".out", out, TOL);
    TorchReference.attentionLoss(out, null).backward();
    REF.closeGradients(name, t, Map.of("src", src, "tgt", tgt), TOL);
  }

  @Test
  void transformerSequenceFirstAsPyTorch() {
    transformerCase("transformer", new Transformer(8, 2, 2, 1, 16, 0), transformerKeys(2, 1));
  }

  @Test
  void transformerBatchFirstPreNormGeluAsPyTorch() {
    transformerCase("transformer_bf", new Transformer(8, 4, 1, 2, 12, 0, "gelu", 1e-5, true, true),
        transformerKeys(1, 2));
  }

  @Test
  void squareSubsequentMaskIsPyTorchs() {
    float inf = Float.NEGATIVE_INFINITY;
    assertArrayEquals(new float[] {0, inf, inf, 0, 0, inf, 0, 0, 0},
        Transformer.generateSquareSubsequentMask(3).toFloatArray());
    assertArrayEquals(F.attentionMask(Tensor.ones(5, 5).triu(1)).toFloatArray(),
        Transformer.generateSquareSubsequentMask(5).toFloatArray());
  }

  // ------------------------------------------------------------------ initialisation, reprs, copies, dropout

  private static float maxAbs(Tensor t) {
    float max = 0;
    for (float x : t.toFloatArray()) {
      max = Math.max(max, Math.abs(x));
    }
    return max;
  }

  @Test
  void pyTorchInitialisationAndRepr() {
    Kiln.manualSeed(0);
    MultiheadAttention mha = new MultiheadAttention(64, 4, 0, true, true, false, 32, 16, false);
    assertNull(mha.inProjWeight());
    double q = Math.sqrt(6.0 / (64 + 64));
    double k = Math.sqrt(6.0 / (32 + 64));
    assertTrue(maxAbs(mha.qProjWeight()) <= q && maxAbs(mha.qProjWeight()) > 0.9 * q, "q_proj_weight Xavier-uniform");
    assertTrue(maxAbs(mha.kProjWeight()) <= k && maxAbs(mha.kProjWeight()) > 0.9 * k, "k_proj_weight Xavier-uniform");
    assertArrayEquals(new int[] {64, 16}, mha.vProjWeight().shape());
    assertArrayEquals(new float[64 * 3], mha.inProjBias().toFloatArray());
    float[] bk = mha.biasK().toFloatArray();
    double sumSq = 0;
    for (float x : bk) {
      sumSq += x * x;
    }
    double std = Math.sqrt(sumSq / bk.length);
    assertTrue(std > 0.1 && std < 0.25, "bias_k Xavier-normal, std sqrt(2 / (64 + 64)) = 0.125: " + std);
    assertEquals("MultiheadAttention(embed_dim=64, num_heads=4, add_bias_kv=True, kdim=32, vdim=16)", mha.toString());
    assertEquals("MultiheadAttention(embed_dim=8, num_heads=2, add_zero_attn=True)",
        new MultiheadAttention(8, 2, 0, true, false, true, 8, 8, false).toString());
    assertEquals("TransformerDecoderLayer(d_model=8, nhead=2, dim_feedforward=2048, dropout=0.1, activation=relu,"
        + " layer_norm_eps=1e-05, batch_first=False, norm_first=False)", new TransformerDecoderLayer(8, 2).toString());
    assertEquals(Set.of("self_attn", "multihead_attn", "linear1", "dropout", "linear2", "norm1", "norm2", "norm3",
        "dropout1", "dropout2", "dropout3"), new TransformerDecoderLayer(8, 2).namedChildren().keySet());
    Transformer t = new Transformer(16, 2, 1, 1, 32, 0.1);
    assertEquals(Set.of("encoder", "decoder"), t.namedChildren().keySet());
    // _reset_parameters: every matrix Xavier-uniform, so out_proj's bound is sqrt(6 / 32), not a Linear's
    double bound = Math.sqrt(6.0 / 32);
    Tensor outProj = t.decoder().layers().get(0).multiheadAttn().outProj().weight();
    assertTrue(maxAbs(outProj) <= bound && maxAbs(outProj) > 0.3, "Xavier-uniform (bound " + bound
        + "), past a Linear's 1 / sqrt(16): " + maxAbs(outProj));
    assertArrayEquals(new float[16 * 3], t.encoder().layers().get(0).selfAttn().inProjBias().toFloatArray(),
        "vectors as they were");
  }

  @Test
  void decoderLayersAreCopiesOfTheGivenLayer() {
    TransformerDecoderLayer layer = new TransformerDecoderLayer(8, 2, 16, 0.1);
    TransformerDecoder decoder = new TransformerDecoder(layer, 3);
    Tensor w0 = decoder.layers().get(0).multiheadAttn().inProjWeight();
    Tensor w2 = decoder.layers().get(2).multiheadAttn().inProjWeight();
    assertNotSame(w0, w2);
    assertNotSame(layer.multiheadAttn().inProjWeight(), w0);
    assertArrayEquals(layer.multiheadAttn().inProjWeight().toFloatArray(), w2.toFloatArray());
    assertEquals(3 * 18, decoder.parameters().size());
    assertNull(decoder.norm());
    assertArrayEquals(new int[] {5, 2, 8}, decoder.forward(Tensor.randn(5, 2, 8), Tensor.randn(7, 2, 8)).shape());
    assertArrayEquals(new int[] {5, 8}, decoder.forward(Tensor.randn(5, 8), Tensor.randn(7, 8)).shape(), "unbatched");
  }

  @Test
  void dropoutOnlyInTraining() {
    Kiln.manualSeed(5);
    Tensor tgt = Tensor.randn(2, 5, 8);
    Tensor memory = Tensor.randn(2, 6, 8);
    TransformerDecoderLayer layer = new TransformerDecoderLayer(8, 2, 16, 0.3, "relu", 1e-5, true, false);
    layer.eval();
    float[] a = layer.forward(tgt, memory).toFloatArray();
    assertArrayEquals(a, layer.forward(tgt, memory).toFloatArray());
    layer.train();
    float[] b = layer.forward(tgt, memory).toFloatArray();
    assertFalse(Arrays.equals(a, b), "training: dropout");
    assertFalse(Arrays.equals(b, layer.forward(tgt, memory).toFloatArray()), "a fresh draw each call");
    Transformer t = new Transformer(8, 2, 1, 1, 16, 0.3, "relu", 1e-5, true, false);
    t.eval();
    float[] c = t.forward(memory, tgt).toFloatArray();
    assertArrayEquals(c, t.forward(memory, tgt).toFloatArray());
    t.train();
    assertFalse(Arrays.equals(c, t.forward(memory, tgt).toFloatArray()), "training: dropout in the transformer");
  }

  @Test
  void aCausalTargetDoesNotSeeItsFuture() {
    Kiln.manualSeed(6);
    Transformer t = new Transformer(8, 2, 1, 2, 16, 0);
    Tensor src = Tensor.randn(6, 2, 8);
    Tensor tgt = Tensor.randn(5, 2, 8);
    Tensor causal = Transformer.generateSquareSubsequentMask(5);
    float[] full = t.forward(src, tgt, null, causal, null, null, null, null).toFloatArray();
    float[] firstFour = t.forward(src, tgt.narrow(0, 0, 4), null, Transformer.generateSquareSubsequentMask(4), null,
        null, null, null).toFloatArray();
    assertArrayEquals(Arrays.copyOf(full, 4 * 2 * 8), firstFour, 1e-5f, "the first 4 positions ignore the 5th");
    float[] unmasked = t.forward(src, tgt).toFloatArray();
    assertFalse(Arrays.equals(Arrays.copyOf(full, 16), Arrays.copyOf(unmasked, 16)), "without the mask they see it");
  }

  private static void randomise(Module m) {
    for (Tensor p : m.parameters()) {
      Init.normal(p, 0, 0.3); // biases and norms away from 0 and 1, so that a wrong key shows
    }
  }

  /** A Kiln Transformer's and MultiheadAttention's (kdim, vdim, bias_k, zero attention) files load strictly into PyTorch's twins, which compute what Kiln computes. */
  @Test
  void kilnFilesLoadIntoPyTorch(@TempDir Path dir) throws Exception {
    assumeTrue(Files.isExecutable(Path.of("/usr/bin/python3")), "needs /usr/bin/python3");
    Kiln.manualSeed(4);
    Transformer t = new Transformer(8, 2, 1, 2, 16, 0.1, "gelu", 1e-5, true, true);
    randomise(t);
    Path file = dir.resolve("transformer.safetensors");
    t.save(file);
    float[] torch = TorchReference.torchOutput("/decoder/load_kiln_model.py", file.toString(), "transformer");
    t.eval();
    Tensor pad = F.attentionMask(Tensor.of(new float[] {0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 0, 0, 0, 0, 0}, 3, 5));
    Tensor out = t.forward(TorchReference.filled(new int[] {3, 5, 8}, 0.29, 0, false),
        TorchReference.filled(new int[] {3, 4, 8}, 0.29, 0.5, false), null, Transformer.generateSquareSubsequentMask(4),
        null, pad, null, pad);
    assertArrayEquals(torch, out.toFloatArray(), 1e-5f);

    MultiheadAttention mha = new MultiheadAttention(8, 2, 0, true, true, true, 5, 3, false);
    randomise(mha);
    Path mhaFile = dir.resolve("mha.safetensors");
    mha.save(mhaFile);
    float[] torchMha = TorchReference.torchOutput("/decoder/load_kiln_model.py", mhaFile.toString(), "mha");
    MultiheadAttention.Output o = mha.forward(TorchReference.filled(new int[] {4, 3, 8}, 0.29, 0, false),
        TorchReference.filled(new int[] {6, 3, 5}, 0.29, 0.5, false), TorchReference.filled(new int[] {6, 3, 3}, 0.29, 1, false));
    float[] kiln = Arrays.copyOf(o.output().toFloatArray(), torchMha.length);
    float[] w = o.weights().toFloatArray();
    System.arraycopy(w, 0, kiln, 4 * 3 * 8, w.length);
    assertEquals(4 * 3 * 8 + 3 * 4 * 8, torchMha.length, "output and weights [3, 4, 6 + 2]");
    assertArrayEquals(torchMha, kiln, 1e-5f);
  }

  private static void assertMessage(String expected, Executable call) {
    Throwable e = assertThrows(RuntimeException.class, call);
    assertTrue(e.getMessage().contains(expected), "message: " + e.getMessage());
  }

  @Test
  void errorsNameTheLayerAndTheShapes() {
    assertMessage("TransformerDecoderLayer(d_model=10, nhead=4): d_model must be divisible by nhead",
        () -> new TransformerDecoderLayer(10, 4));
    assertMessage("TransformerDecoderLayer: activation should be relu/gelu, not tanh",
        () -> new TransformerDecoderLayer(8, 2, 16, 0.1, "tanh", 1e-5, false, false));
    assertMessage("TransformerEncoderLayer(d_model=10, nhead=4): d_model must be divisible by nhead",
        () -> new TransformerEncoderLayer(10, 4));
    assertMessage("TransformerDecoder: decoder_layer must not be null", () -> new TransformerDecoder(null, 2));
    assertMessage("TransformerDecoder: num_layers must be positive, got 0",
        () -> new TransformerDecoder(new TransformerDecoderLayer(8, 2), 0));
    assertMessage("MultiheadAttention(embed_dim=8, num_heads=2): kdim and vdim must be positive, got kdim=0, vdim=3",
        () -> new MultiheadAttention(8, 2, 0, true, false, false, 0, 3, false));
    MultiheadAttention mha = new MultiheadAttention(8, 2, 0, true, false, false, 5, 3, false);
    assertMessage("key and value must have the query's rank, the same shape and kdim = 5, vdim = 3 last, got query"
        + " [4, 3, 8], key [5, 3, 8], value [5, 3, 3]",
        () -> mha.forward(Tensor.zeros(4, 3, 8), Tensor.zeros(5, 3, 8), Tensor.zeros(5, 3, 3)));
    assertMessage("needs the encoder's output too: forward(tgt, memory)",
        () -> new TransformerDecoderLayer(8, 2).forward(Tensor.zeros(4, 3, 8)));
    TransformerDecoderLayer layer = new TransformerDecoderLayer(8, 2, 16, 0);
    assertMessage("TransformerDecoderLayer(d_model=8, nhead=2, dim_feedforward=16, dropout=0.0, activation=relu,"
        + " layer_norm_eps=1e-05, batch_first=False, norm_first=False) expects [L, N, 8] (or [L, 8] unbatched), receives"
        + " [5, 3, 6]", () -> layer.forward(Tensor.zeros(4, 3, 8), Tensor.zeros(5, 3, 6)));
    assertMessage("memory must have the target's rank, got tgt [4, 3, 8], memory [5, 8]",
        () -> layer.forward(Tensor.zeros(4, 3, 8), Tensor.zeros(5, 8)));
    assertMessage("key's batch (2) differs from the query's (3)",
        () -> layer.forward(Tensor.zeros(4, 3, 8), Tensor.zeros(5, 2, 8)));
    assertMessage("attn_mask must be [L, S] = [4, 4]",
        () -> layer.forward(Tensor.zeros(4, 3, 8), Tensor.zeros(5, 3, 8), Tensor.zeros(5, 5), null, null, null));
    Transformer t = new Transformer(8, 2, 1, 1, 16, 0);
    assertMessage("Transformer: the batch number of src and tgt must be equal, got src [5, 2, 8], tgt [4, 3, 8]",
        () -> t.forward(Tensor.zeros(5, 2, 8), Tensor.zeros(4, 3, 8)));
    assertMessage("Transformer: the feature number of src and tgt must be equal to d_model = 8, got src [5, 2, 8], tgt"
        + " [4, 2, 6]", () -> t.forward(Tensor.zeros(5, 2, 8), Tensor.zeros(4, 2, 6)));
    assertMessage("Transformer needs a source and a target: forward(src, tgt)", () -> t.forward(Tensor.zeros(5, 2, 8)));
    assertMessage("generateSquareSubsequentMask: the size must be positive, got 0",
        () -> Transformer.generateSquareSubsequentMask(0));
  }
}
