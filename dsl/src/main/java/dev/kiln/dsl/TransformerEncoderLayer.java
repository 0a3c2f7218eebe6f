package dev.kiln.dsl;

import dev.kiln.runtime.Intermediates;
import dev.kiln.runtime.Tensor;

/**
 * One transformer encoder block, as PyTorch 1.13's {@code nn.TransformerEncoderLayer(d_model, nhead,
 * dim_feedforward, dropout, activation, layer_norm_eps, batch_first, norm_first)}: self-attention
 * ({@link MultiheadAttention}) and a feed-forward {@code linear2(dropout(activation(linear1(x))))}, each with a
 * residual connection and dropout, and a LayerNorm after each sum (post-norm, the default) or before each block
 * ({@code normFirst}). Children and state-dict keys are PyTorch's: {@code self_attn.in_proj_weight},
 * {@code self_attn.out_proj.weight}, {@code linear1.weight}, {@code linear2.weight}, {@code norm1.weight},
 * {@code norm2.weight} (and the biases). Input {@code [S, N, E]} ({@code [N, S, E]} with {@code batchFirst}, or
 * {@code [S, E]}), output the same shape; masks as {@link MultiheadAttention}'s (float, added; see
 * {@link F#attentionMask}).
 */
public class TransformerEncoderLayer extends Layer<TransformerEncoderLayer.Spec> {
  /** The block's hyper-parameters; the shape is unchanged. */
  public record Spec(int dModel, int nhead, int dimFeedforward, double dropout, String activation, double layerNormEps,
      boolean batchFirst, boolean normFirst, LayerSpec activationLayer) implements LayerSpec {
    public Spec {
      TransformerDecoderLayer.checkBlock("TransformerEncoderLayer", dModel, nhead, dimFeedforward, dropout, activation,
          activationLayer);
    }

    /** The string form, {@code "relu"} or {@code "gelu"}. */
    public Spec(int dModel, int nhead, int dimFeedforward, double dropout, String activation, double layerNormEps,
        boolean batchFirst, boolean normFirst) {
      this(dModel, nhead, dimFeedforward, dropout, activation, layerNormEps, batchFirst, normFirst, null);
    }

    /** The layer form: {@code activation} the spec of one of {@link TransformerDecoderLayer#activationModule}'s layers. */
    public Spec(int dModel, int nhead, int dimFeedforward, double dropout, LayerSpec activation, double layerNormEps,
        boolean batchFirst, boolean normFirst) {
      this(dModel, nhead, dimFeedforward, dropout, String.valueOf(activation), layerNormEps, batchFirst, normFirst,
          activation);
    }

    /** The activation applied between linear1 and linear2, as a layer's spec ({@code "gelu"}: {@code GELU.Spec()}). */
    public LayerSpec activationSpec() {
      return TransformerDecoderLayer.activationSpec(activation, activationLayer);
    }

    @Override
    public int[] outputShape(int[] in) {
      return MultiheadAttention.sequenceShape(this, dModel, batchFirst, in);
    }

    @Override
    public String toString() {
      return TransformerDecoderLayer.blockRepr("TransformerEncoderLayer", dModel, nhead, dimFeedforward, dropout,
          activation, layerNormEps, batchFirst, normFirst);
    }
  }

  private final transient MultiheadAttention selfAttn;
  private final transient Linear linear1;
  private final transient Dropout dropout;
  private final transient Linear linear2;
  private final transient LayerNorm norm1;
  private final transient LayerNorm norm2;
  private final transient Dropout dropout1;
  private final transient Dropout dropout2;
  private final transient Layer<?> activation;

  /** PyTorch's defaults: dim_feedforward 2048, dropout 0.1, relu, eps 1e-5, sequence first, post-norm. */
  public TransformerEncoderLayer(int dModel, int nhead) {
    this(dModel, nhead, 2048, 0.1);
  }

  public TransformerEncoderLayer(int dModel, int nhead, int dimFeedforward, double dropout) {
    this(dModel, nhead, dimFeedforward, dropout, "relu", 1e-5, false, false);
  }

  /** @param activation {@code "relu"} or {@code "gelu"} (PyTorch's strings) */
  public TransformerEncoderLayer(int dModel, int nhead, int dimFeedforward, double dropout, String activation,
      double layerNormEps, boolean batchFirst, boolean normFirst) {
    this(new Spec(dModel, nhead, dimFeedforward, dropout, activation, layerNormEps, batchFirst, normFirst));
  }

  /**
   * PyTorch's {@code activation} given as a module, {@code nn.TransformerEncoderLayer(..., nn.GELU(approximate='tanh'),
   * ...)}: one of {@link TransformerDecoderLayer#ACTIVATION_LAYERS} (a copy is held, child {@code activation}; no
   * parameters, so the state-dict keys are the string form's).
   */
  public TransformerEncoderLayer(int dModel, int nhead, int dimFeedforward, double dropout, Layer<?> activation,
      double layerNormEps, boolean batchFirst, boolean normFirst) {
    this(new Spec(dModel, nhead, dimFeedforward, dropout,
        TransformerDecoderLayer.activationOf("TransformerEncoderLayer", activation), layerNormEps, batchFirst, normFirst));
  }

  /** A layer of these hyper-parameters, freshly initialised. */
  public TransformerEncoderLayer(Spec spec) {
    super(spec);
    int d = spec.dModel();
    selfAttn = registerModule("self_attn", new MultiheadAttention(d, spec.nhead(), spec.dropout(), true, spec.batchFirst()));
    linear1 = registerModule("linear1", new Linear(d, spec.dimFeedforward()));
    dropout = registerModule("dropout", new Dropout(spec.dropout()));
    linear2 = registerModule("linear2", new Linear(spec.dimFeedforward(), d));
    norm1 = registerModule("norm1", new LayerNorm(new int[] {d}, spec.layerNormEps(), true));
    norm2 = registerModule("norm2", new LayerNorm(new int[] {d}, spec.layerNormEps(), true));
    dropout1 = registerModule("dropout1", new Dropout(spec.dropout()));
    dropout2 = registerModule("dropout2", new Dropout(spec.dropout()));
    activation = TransformerDecoderLayer.registerActivation(this, spec.activationLayer());
  }

  public MultiheadAttention selfAttn() {
    return selfAttn;
  }

  @Override
  public Tensor forward(Tensor src) {
    return forward(src, null, null);
  }

  /**
   * PyTorch's {@code forward(src, src_mask, src_key_padding_mask)}.
   *
   * @param srcMask float {@code [S, S]} or {@code [N * nhead, S, S]} added to the scores, or null
   * @param srcKeyPaddingMask float {@code [N, S]} added to every query's scores, or null
   */
  public Tensor forward(Tensor src, Tensor srcMask, Tensor srcKeyPaddingMask) {
    outputShape(src.shape());
    Intermediates run = intermediates(src); // under no grad: the maps in between given back once the output is made
    Tensor x = src;
    Tensor out;
    if (spec().normFirst()) {
      Tensor n1 = norm1.apply(x);
      Tensor sa = selfAttention(n1, srcMask, srcKeyPaddingMask);
      x = x.add(sa);
      Tensor n2 = norm2.apply(x);
      Tensor ff = feedForward(n2, run);
      out = x.add(ff);
      hold(run, n1, sa, x, n2, ff);
    } else {
      Tensor sa = selfAttention(x, srcMask, srcKeyPaddingMask);
      Tensor s1 = x.add(sa);
      x = norm1.apply(s1);
      Tensor ff = feedForward(x, run);
      Tensor s2 = x.add(ff);
      out = norm2.apply(s2);
      hold(run, sa, s1, x, ff, s2);
    }
    if (run != null) {
      run.next(out);
    }
    return out;
  }

  private Tensor selfAttention(Tensor x, Tensor mask, Tensor keyPaddingMask) {
    return dropout1.apply(selfAttn.forward(x, x, x, keyPaddingMask, false, mask).output());
  }

  /** The feed-forward block; its hidden maps go to {@code run} (may be null) to be given back after the layer's output. */
  private Tensor feedForward(Tensor x, Intermediates run) {
    Tensor h = linear1.apply(x);
    Tensor a = activation != null ? activation.apply(h) : "gelu".equals(spec().activation()) ? F.gelu(h) : F.relu(h);
    hold(run, h, a);
    return dropout2.apply(linear2.apply(dropout.apply(a)));
  }
}
