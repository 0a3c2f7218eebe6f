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
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@link F#scaledDotProductAttention}, {@link MultiheadAttention}, {@link TransformerEncoderLayer} and
 * {@link TransformerEncoder} against PyTorch 1.13 (attention/reference.txt from make_reference.py): parameters loaded
 * by PyTorch's state-dict keys, then outputs, attention weights, and the gradients of the inputs and every parameter;
 * masks (float, and PyTorch's boolean ones through {@link F#attentionMask}), both batch layouts, unbatched inputs,
 * dropout in training only, and the errors' messages.
 */
class AttentionLayersTest {
  private static final TorchReference REF = new TorchReference("/attention/reference.txt");
  private static final double TOL = 1e-5;

  private static void sdpaCase(String name, boolean mask, boolean causal) {
    Tensor q = REF.copy(name + ".q").requiresGrad(true);
    Tensor k = REF.copy(name + ".k").requiresGrad(true);
    Tensor v = REF.copy(name + ".v").requiresGrad(true);
    Tensor out = F.scaledDotProductAttention(q, k, v, mask ? REF.copy(name + ".mask") : null, 0, causal);
    REF.close(name + ".out", out, TOL);
    TorchReference.attentionLoss(out, null).backward();
    REF.close(name + ".grad.q", q.grad(), TOL);
    REF.close(name + ".grad.k", k.grad(), TOL);
    REF.close(name + ".grad.v", v.grad(), TOL);
  }

  @Test
  void scaledDotProductAttentionAsPyTorch() {
    sdpaCase("sdpa", false, false);
    sdpaCase("sdpa_mask", true, false);
    sdpaCase("sdpa_causal", false, true);
  }

  @Test
  void scaledDotProductAttentionIsTheHandWrittenForm() {
    Kiln.manualSeed(3);
    Tensor q = Tensor.randn(2, 4, 7, 8);
    Tensor k = Tensor.randn(2, 4, 7, 8);
    Tensor v = Tensor.randn(2, 4, 7, 8);
    Tensor byHand = q.matmul(k.transpose(-2, -1)).div(Math.sqrt(8)).softmax(-1).matmul(v);
    assertArrayEquals(byHand.toFloatArray(), F.scaledDotProductAttention(q, k, v).toFloatArray());
    // PyTorch 2's boolean mask (true = may attend) as Kiln's float one
    Tensor allowed = Tensor.ones(7, 7).tril();
    assertArrayEquals(F.scaledDotProductAttention(q, k, v, null, 0, true).toFloatArray(),
        F.scaledDotProductAttention(q, k, v, F.attentionMask(allowed.logicalNot()), 0, false).toFloatArray());
    float[] m = F.attentionMask(Tensor.of(new float[] {0, 1, 0, 1}, 2, 2)).toFloatArray();
    assertArrayEquals(new float[] {0, Float.NEGATIVE_INFINITY, 0, Float.NEGATIVE_INFINITY}, m);
  }

  @Test
  void scaledDotProductAttentionDropoutWhenAsked() {
    Tensor q = Tensor.ones(1, 4, 8);
    Tensor v = Tensor.ones(1, 4, 8);
    Kiln.manualSeed(1);
    float[] dropped = F.scaledDotProductAttention(q, q, v, null, 0.5, false).toFloatArray();
    Kiln.manualSeed(1);
    assertArrayEquals(dropped, F.scaledDotProductAttention(q, q, v, null, 0.5, false).toFloatArray(), "seeded");
    boolean changed = false;
    for (float x : dropped) {
      changed |= Math.abs(x - 1) > 1e-6;
    }
    assertTrue(changed, "dropout 0.5 on uniform weights changes the output");
  }

  private static void mhaCase(String name, MultiheadAttention mha, boolean selfAttention, boolean floatAttnMask,
      boolean average, List<String> keys) {
    REF.load(name, mha, keys);
    mha.eval();
    Tensor q = REF.copy(name + ".query").requiresGrad(true);
    Tensor k = selfAttention ? q : REF.copy(name + ".key").requiresGrad(true);
    Tensor v = selfAttention ? q : REF.copy(name + ".value").requiresGrad(true);
    MultiheadAttention.Output out = mha.forward(q, k, v, REF.mask(name + ".key_padding_mask", true), true,
        REF.mask(name + ".attn_mask", !floatAttnMask), average);
    REF.close(name + ".out", out.output(), TOL);
    REF.close(name + ".weights", out.weights(), TOL);
    TorchReference.attentionLoss(out.output(), out.weights()).backward();
    REF.closeGradients(name, mha, selfAttention ? Map.of("query", q) : Map.of("query", q, "key", k, "value", v), TOL);
  }

  private static final List<String> MHA_KEYS = List.of("in_proj_weight", "in_proj_bias", "out_proj.weight", "out_proj.bias");

  @Test
  void multiheadAttentionSequenceFirstWithMasksAsPyTorch() {
    mhaCase("mha", new MultiheadAttention(8, 2), false, true, true, MHA_KEYS);
  }

  @Test
  void multiheadAttentionBatchFirstWithoutBiasPerHeadWeightsAsPyTorch() {
    mhaCase("mha_bf", new MultiheadAttention(8, 4, 0, false, true), true, false, false,
        List.of("in_proj_weight", "out_proj.weight"));
  }

  @Test
  void multiheadAttentionUnbatchedAsPyTorch() {
    mhaCase("mha_one", new MultiheadAttention(6, 3), false, true, true, MHA_KEYS);
  }

  private static List<String> encoderLayerKeys(String prefix) {
    List<String> keys = new ArrayList<>();
    for (String k : MHA_KEYS) {
      keys.add(prefix + "self_attn." + k);
    }
    for (String k : List.of("linear1", "linear2", "norm1", "norm2")) {
      keys.add(prefix + k + ".weight");
      keys.add(prefix + k + ".bias");
    }
    return keys;
  }

  private static void encoderCase(String name, Module m, TransformerEncoderLayer layer, List<String> keys) {
    REF.load(name, m, keys);
    m.eval();
    Tensor src = REF.copy(name + ".src").requiresGrad(true);
    Tensor padding = REF.mask(name + ".src_key_padding_mask", true);
    Tensor srcMask = REF.mask(name + ".src_mask", true);
    Tensor out = layer != null ? layer.forward(src, srcMask, padding) : ((TransformerEncoder) m).forward(src, srcMask, padding);
    REF.close(name + ".out", out, TOL);
    TorchReference.attentionLoss(out, null).backward();
    REF.closeGradients(name, m, Map.of("src", src), TOL);
  }

  @Test
  void encoderLayerPostNormReluSequenceFirstAsPyTorch() {
    TransformerEncoderLayer layer = new TransformerEncoderLayer(8, 2, 16, 0.1);
    encoderCase("enc_post", layer, layer, encoderLayerKeys(""));
  }

  @Test
  void encoderLayerPreNormGeluBatchFirstAsPyTorch() {
    TransformerEncoderLayer layer = new TransformerEncoderLayer(8, 4, 12, 0.1, "gelu", 1e-6, true, true);
    encoderCase("enc_pre", layer, layer, encoderLayerKeys(""));
  }

  /**
   * PyTorch's callable activation, {@code nn.GELU(approximate='tanh')}: values and gradients as PyTorch's, a child
   * {@code activation} as PyTorch's, the state-dict keys the string form's; a layer with parameters refused.
   */
  @Test
  void encoderLayerWithAnActivationLayerAsPyTorch() {
    TransformerEncoderLayer layer = new TransformerEncoderLayer(8, 2, 12, 0.1, new GELU("tanh"), 1e-5, true, false);
    assertEquals("TransformerEncoderLayer(d_model=8, nhead=2, dim_feedforward=12, dropout=0.1,"
        + " activation=GELU(approximate='tanh'), layer_norm_eps=1e-05, batch_first=True, norm_first=False)", layer.toString());
    assertEquals("GELU(approximate='tanh')", layer.namedChildren().get("activation").toString());
    assertEquals(new GELU.Spec("tanh"), layer.spec().activationSpec());
    encoderCase("enc_act", layer, layer, encoderLayerKeys(""));
    Transformer t = new Transformer(8, 2, 1, 1, 16, 0.0, new LeakyReLU(0.2), 1e-5, true, false);
    assertEquals("LeakyReLU(negative_slope=0.2)",
        t.encoder().layers().get(0).namedChildren().get("activation").toString());
    assertEquals(new Transformer(8, 2, 1, 1, 16, 0.0).stateDict().keySet(), t.stateDict().keySet());
    assertMessage("TransformerDecoderLayer: activation must be \"relu\", \"gelu\" or a parameterless activation layer"
        + " (ReLU, GELU, SiLU", () -> new TransformerDecoderLayer(8, 2, 16, 0.0, new Linear(8, 8), 1e-5, true, false));
  }

  @Test
  void encoderOfTwoLayersAndANormAsPyTorch() {
    TransformerEncoder encoder = new TransformerEncoder(
        new TransformerEncoderLayer(8, 2, 16, 0, "relu", 1e-5, true, false), 2, new LayerNorm(8));
    List<String> keys = new ArrayList<>(encoderLayerKeys("layers.0."));
    keys.addAll(encoderLayerKeys("layers.1."));
    keys.addAll(List.of("norm.weight", "norm.bias"));
    encoderCase("encoder", encoder, null, keys);
  }

  @Test
  void encoderLayersAreCopiesOfTheGivenLayer() {
    TransformerEncoderLayer layer = new TransformerEncoderLayer(8, 2, 16, 0.1);
    TransformerEncoder encoder = new TransformerEncoder(layer, 3);
    Tensor w0 = encoder.layers().get(0).selfAttn().inProjWeight();
    Tensor w2 = encoder.layers().get(2).selfAttn().inProjWeight();
    assertNotSame(w0, w2);
    assertNotSame(layer.selfAttn().inProjWeight(), w0);
    assertArrayEquals(layer.selfAttn().inProjWeight().toFloatArray(), w2.toFloatArray());
    assertEquals(3 * 12, encoder.parameters().size());
    assertArrayEquals(new int[] {5, 2, 8}, encoder.forward(Tensor.randn(5, 2, 8)).shape());
  }

  @Test
  void pyTorchInitialisationAndRepr() {
    Kiln.manualSeed(0);
    MultiheadAttention mha = new MultiheadAttention(64, 4);
    double xavier = Math.sqrt(6.0 / (64 + 3 * 64));
    float max = 0;
    for (float x : mha.inProjWeight().toFloatArray()) {
      max = Math.max(max, Math.abs(x));
    }
    assertTrue(max <= xavier && max > 0.9 * xavier, "Xavier-uniform bound " + xavier + ", max " + max);
    assertArrayEquals(new float[64 * 3], mha.inProjBias().toFloatArray());
    assertArrayEquals(new float[64], mha.outProj().bias().toFloatArray());
    assertEquals("MultiheadAttention(embed_dim=64, num_heads=4)", mha.toString());
    assertEquals("MultiheadAttention(embed_dim=8, num_heads=2, dropout=0.1, bias=False, batch_first=True)",
        new MultiheadAttention(8, 2, 0.1, false, true).toString());
    assertEquals("TransformerEncoderLayer(d_model=8, nhead=2, dim_feedforward=2048, dropout=0.1, activation=relu,"
        + " layer_norm_eps=1e-05, batch_first=False, norm_first=False)", new TransformerEncoderLayer(8, 2).toString());
    assertEquals(Set.of("self_attn", "linear1", "dropout", "linear2", "norm1", "norm2", "dropout1", "dropout2"),
        new TransformerEncoderLayer(8, 2).namedChildren().keySet());
  }

  @Test
  void dropoutOnlyInTraining() {
    Kiln.manualSeed(5);
    MultiheadAttention mha = new MultiheadAttention(8, 2, 0.5, true, true);
    Tensor x = Tensor.randn(2, 6, 8);
    mha.eval();
    MultiheadAttention.Output eval = mha.forward(x, x, x);
    MultiheadAttention.Output again = mha.forward(x, x, x);
    assertArrayEquals(eval.output().toFloatArray(), again.output().toFloatArray());
    float[] w = eval.weights().toFloatArray();
    for (int row = 0; row < w.length / 6; row++) {
      float sum = 0;
      for (int j = 0; j < 6; j++) {
        sum += w[row * 6 + j];
      }
      assertEquals(1, sum, 1e-5, "eval: each row of weights sums to 1");
    }
    mha.train();
    MultiheadAttention.Output train = mha.forward(x, x, x);
    assertFalse(java.util.Arrays.equals(eval.output().toFloatArray(), train.output().toFloatArray()), "training: dropout");
    assertNull(mha.forward(x, x, x, null, false, null).weights(), "need_weights=false");

    TransformerEncoderLayer layer = new TransformerEncoderLayer(8, 2, 16, 0.3, "relu", 1e-5, true, false);
    layer.eval();
    float[] a = layer.forward(x).toFloatArray();
    assertArrayEquals(a, layer.forward(x).toFloatArray());
    layer.train();
    assertFalse(java.util.Arrays.equals(a, layer.forward(x).toFloatArray()), "training: dropout in the layer");
  }

  /** A Kiln encoder's file loads strictly into PyTorch's twin, which computes what Kiln computes (when python3 has torch). */
  @Test
  void kilnEncoderFileLoadsIntoPyTorch(@TempDir Path dir) throws Exception {
    Kiln.manualSeed(4);
    TransformerEncoder enc = new TransformerEncoder(new TransformerEncoderLayer(8, 2, 16, 0.1, "gelu", 1e-5, true, true), 2,
        new LayerNorm(8));
    for (Tensor p : enc.parameters()) {
      Init.normal(p, 0, 0.3); // biases and norms away from 0 and 1, so that a wrong key shows
    }
    Path file = dir.resolve("encoder.safetensors");
    enc.save(file);
    assumeTrue(Files.isExecutable(Path.of("/usr/bin/python3")), "needs /usr/bin/python3");
    float[] torch = TorchReference.torchOutput("/attention/load_kiln_encoder.py", file.toString());
    enc.eval();
    Tensor padding = F.attentionMask(Tensor.of(new float[] {0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 0, 0, 0, 0, 0}, 3, 5));
    Tensor x = TorchReference.filled(new int[] {3, 5, 8}, 0.29, 0, false);
    assertArrayEquals(torch, enc.forward(x, null, padding).toFloatArray(), 1e-5f);
  }

  private static void assertMessage(String expected, Executable call) {
    Throwable e = assertThrows(IllegalArgumentException.class, call);
    assertTrue(e.getMessage().contains(expected), "message: " + e.getMessage());
  }

  @Test
  void errorsNameTheLayerAndTheShapes() {
    assertMessage("MultiheadAttention(embed_dim=10, num_heads=3): embed_dim must be divisible by num_heads",
        () -> new MultiheadAttention(10, 3));
    assertMessage("TransformerEncoderLayer(d_model=10, nhead=4): d_model must be divisible by nhead",
        () -> new TransformerEncoderLayer(10, 4));
    assertMessage("activation should be relu/gelu, not tanh",
        () -> new TransformerEncoderLayer(8, 2, 16, 0.1, "tanh", 1e-5, false, false));
    MultiheadAttention mha = new MultiheadAttention(8, 2);
    assertMessage("MultiheadAttention(embed_dim=8, num_heads=2) expects [L, N, 8] (or [L, 8] unbatched), receives [4, 3, 6]",
        () -> mha.forward(Tensor.zeros(4, 3, 6)));
    assertMessage("key's batch (2) differs from the query's (3)",
        () -> mha.forward(Tensor.zeros(4, 3, 8), Tensor.zeros(5, 2, 8), Tensor.zeros(5, 2, 8)));
    assertMessage("key and value must have the query's rank, the same shape",
        () -> mha.forward(Tensor.zeros(4, 3, 8), Tensor.zeros(5, 3, 8), Tensor.zeros(6, 3, 8)));
    Tensor q = Tensor.zeros(4, 3, 8);
    Tensor kv = Tensor.zeros(5, 3, 8);
    assertMessage("attn_mask must be [L, S] = [4, 5] or [N * num_heads, L, S] = [6, 4, 5], got [4, 4]",
        () -> mha.forward(q, kv, kv, null, true, Tensor.zeros(4, 4)));
    assertMessage("key_padding_mask must be [N, S] = [3, 5], got [5, 3]",
        () -> mha.forward(q, kv, kv, Tensor.zeros(5, 3), true, null));
    assertMessage("TransformerEncoderLayer(d_model=8, nhead=2, dim_feedforward=16",
        () -> new TransformerEncoderLayer(8, 2, 16, 0).forward(Tensor.zeros(4, 3, 6)));
    assertMessage("scaledDotProductAttention: query's last dimension (E = 4) must equal key's (5)",
        () -> F.scaledDotProductAttention(Tensor.zeros(2, 3, 4), Tensor.zeros(2, 3, 5), Tensor.zeros(2, 3, 5)));
    assertMessage("scaledDotProductAttention: key and value must have the same length S",
        () -> F.scaledDotProductAttention(Tensor.zeros(2, 3, 4), Tensor.zeros(2, 5, 4), Tensor.zeros(2, 6, 4)));
    assertMessage("scaledDotProductAttention: attn_mask of shape [3, 4] does not broadcast to the scores' shape [2, 3, 5]",
        () -> F.scaledDotProductAttention(Tensor.zeros(2, 3, 4), Tensor.zeros(2, 5, 4), Tensor.zeros(2, 5, 4),
            Tensor.zeros(3, 4), 0, false));
    assertMessage("must not be given with isCausal=true",
        () -> F.scaledDotProductAttention(Tensor.zeros(2, 3, 4), Tensor.zeros(2, 3, 4), Tensor.zeros(2, 3, 4),
            Tensor.zeros(3, 3), 0, true));
  }
}
