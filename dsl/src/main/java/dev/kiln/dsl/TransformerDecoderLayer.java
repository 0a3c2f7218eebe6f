package dev.kiln.dsl;

import dev.kiln.runtime.Intermediates;
import dev.kiln.runtime.Shapes;
import dev.kiln.runtime.Tensor;
import java.util.Locale;

/**
 * One transformer decoder block, as PyTorch 1.13's {@code nn.TransformerDecoderLayer(d_model, nhead,
 * dim_feedforward, dropout, activation, layer_norm_eps, batch_first, norm_first)}: self-attention over the target
 * ({@code self_attn}, masked by {@code tgtMask}, causal for a language model: {@link Transformer#generateSquareSubsequentMask}),
 * attention over the encoder's output ({@code multihead_attn}, the query the target, key and value the memory) and a
 * feed-forward {@code linear2(dropout(activation(linear1(x))))}, each with a residual connection and dropout
 * ({@code dropout1}, {@code dropout2}, {@code dropout3}), and a LayerNorm after each sum (post-norm, the default) or
 * before each block ({@code normFirst}). Children and state-dict keys are PyTorch's ({@code self_attn.in_proj_weight},
 * {@code multihead_attn.out_proj.weight}, {@code linear1.weight}, {@code norm3.bias}, ...). Target {@code [T, N, E]}
 * and memory {@code [S, N, E]} ({@code [N, T, E]}, {@code [N, S, E]} with {@code batchFirst}, or unbatched
 * {@code [T, E]}, {@code [S, E]}); the output has the target's shape. Masks as {@link MultiheadAttention}'s (float,
 * added; PyTorch's boolean ones through {@link F#attentionMask}).
 */
public class TransformerDecoderLayer extends Layer<TransformerDecoderLayer.Spec> {
  /** The block's hyper-parameters, those of {@link TransformerEncoderLayer.Spec}; the target's shape is unchanged. */
  public record Spec(int dModel, int nhead, int dimFeedforward, double dropout, String activation, double layerNormEps,
      boolean batchFirst, boolean normFirst, LayerSpec activationLayer) implements LayerSpec {
    public Spec {
      checkBlock("TransformerDecoderLayer", dModel, nhead, dimFeedforward, dropout, activation, activationLayer);
    }

    /** The string form, {@code "relu"} or {@code "gelu"}. */
    public Spec(int dModel, int nhead, int dimFeedforward, double dropout, String activation, double layerNormEps,
        boolean batchFirst, boolean normFirst) {
      this(dModel, nhead, dimFeedforward, dropout, activation, layerNormEps, batchFirst, normFirst, null);
    }

    /** The layer form: {@code activation} the spec of one of {@link #activationModule}'s layers. */
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
      return blockRepr("TransformerDecoderLayer", dModel, nhead, dimFeedforward, dropout, activation, layerNormEps,
          batchFirst, normFirst);
    }
  }

  /** A transformer block's repr with its hyper-parameters by PyTorch's names, for {@code layer}. */
  static String blockRepr(String layer, int dModel, int nhead, int dimFeedforward, double dropout, String activation,
      double layerNormEps, boolean batchFirst, boolean normFirst) {
    return String.format(Locale.ROOT, "%s(d_model=%d, nhead=%d, dim_feedforward=%d, dropout=%s, activation=%s,"
        + " layer_norm_eps=%s, batch_first=%s, norm_first=%s)", layer, dModel, nhead, dimFeedforward, pythonRepr(dropout),
        activation, pythonRepr(layerNormEps), batchFirst ? "True" : "False", normFirst ? "True" : "False");
  }

  /** The activation a block's spec names: its layer's spec, else the string's ({@code "gelu"} GELU's, ReLU's). */
  static LayerSpec activationSpec(String activation, LayerSpec activationLayer) {
    return activationLayer != null ? activationLayer : "gelu".equals(activation) ? new GELU.Spec() : new ReLU.Spec();
  }

  /** The activation layers a transformer block takes, by name, for messages. */
  public static final String ACTIVATION_LAYERS = "ReLU, GELU, SiLU, Mish, Tanh, Sigmoid, LeakyReLU, ELU, CELU, SELU,"
      + " ReLU6, Hardtanh, Hardswish, Hardsigmoid, LogSigmoid, Softplus, Softsign, Tanhshrink, Identity";

  /**
   * A fresh activation layer of {@code spec}, for a transformer block's {@code activation} (PyTorch's callable): one of
   * {@link #ACTIVATION_LAYERS}, which map a tensor to one of its shape without parameters; null for any other spec.
   */
  public static Layer<?> activationModule(LayerSpec spec) {
    if (spec instanceof ReLU.Spec) {
      return new ReLU();
    } else if (spec instanceof GELU.Spec g) {
      return new GELU(g.approximate());
    } else if (spec instanceof SiLU.Spec) {
      return new SiLU();
    } else if (spec instanceof Mish.Spec) {
      return new Mish();
    } else if (spec instanceof Tanh.Spec) {
      return new Tanh();
    } else if (spec instanceof Sigmoid.Spec) {
      return new Sigmoid();
    } else if (spec instanceof LeakyReLU.Spec l) {
      return new LeakyReLU(l.negativeSlope());
    } else if (spec instanceof ELU.Spec e) {
      return new ELU(e.alpha());
    } else if (spec instanceof CELU.Spec c) {
      return new CELU(c.alpha());
    } else if (spec instanceof SELU.Spec) {
      return new SELU();
    } else if (spec instanceof ReLU6.Spec) {
      return new ReLU6();
    } else if (spec instanceof Hardtanh.Spec h) {
      return new Hardtanh(h.minVal(), h.maxVal());
    } else if (spec instanceof Hardswish.Spec) {
      return new Hardswish();
    } else if (spec instanceof Hardsigmoid.Spec) {
      return new Hardsigmoid();
    } else if (spec instanceof LogSigmoid.Spec) {
      return new LogSigmoid();
    } else if (spec instanceof Softplus.Spec p) {
      return new Softplus(p.beta(), p.threshold());
    } else if (spec instanceof Softsign.Spec) {
      return new Softsign();
    } else if (spec instanceof Tanhshrink.Spec) {
      return new Tanhshrink();
    } else if (spec instanceof Identity.Spec) {
      return new Identity();
    }
    return null;
  }

  /** The spec of {@code activation}, checked to be one of {@link #ACTIVATION_LAYERS}; the message names {@code layer}. */
  static LayerSpec activationOf(String layer, Layer<?> activation) {
    if (activation == null || activationModule(activation.spec()) == null) {
      throw new IllegalArgumentException(layer + ": activation must be \"relu\", \"gelu\" or a parameterless activation"
          + " layer (" + ACTIVATION_LAYERS + "), not " + activation);
    }
    return activation.spec();
  }

  /** PyTorch's checks of a transformer block's hyper-parameters, the messages naming {@code layer}. */
  static void checkBlock(String layer, int dModel, int nhead, int dimFeedforward, double dropout, String activation,
      LayerSpec activationLayer) {
    if (dModel <= 0 || nhead <= 0 || dimFeedforward <= 0) {
      throw new IllegalArgumentException(layer + "(d_model=" + dModel + ", nhead=" + nhead + ", dim_feedforward="
          + dimFeedforward + "): all three must be positive");
    }
    if (dModel % nhead != 0) {
      throw new IllegalArgumentException(layer + "(d_model=" + dModel + ", nhead=" + nhead
          + "): d_model must be divisible by nhead");
    }
    if (activationLayer != null) {
      if (activationModule(activationLayer) == null || !activationLayer.toString().equals(activation)) {
        throw new IllegalArgumentException(layer + ": activation must be \"relu\", \"gelu\" or a parameterless activation"
            + " layer (" + ACTIVATION_LAYERS + "), not " + activationLayer);
      }
    } else if (!"relu".equals(activation) && !"gelu".equals(activation)) {
      throw new IllegalArgumentException(layer + ": activation should be relu/gelu, not " + activation);
    }
    if (!(dropout >= 0 && dropout <= 1)) {
      throw new IllegalArgumentException(layer + ": dropout has to be between 0 and 1, but got " + dropout);
    }
  }

  private final transient MultiheadAttention selfAttn;
  private final transient MultiheadAttention multiheadAttn;
  private final transient Linear linear1;
  private final transient Dropout dropout;
  private final transient Linear linear2;
  private final transient LayerNorm norm1;
  private final transient LayerNorm norm2;
  private final transient LayerNorm norm3;
  private final transient Dropout dropout1;
  private final transient Dropout dropout2;
  private final transient Dropout dropout3;
  private final transient Layer<?> activation;

  /** PyTorch's defaults: dim_feedforward 2048, dropout 0.1, relu, eps 1e-5, sequence first, post-norm. */
  public TransformerDecoderLayer(int dModel, int nhead) {
    this(dModel, nhead, 2048, 0.1);
  }

  public TransformerDecoderLayer(int dModel, int nhead, int dimFeedforward, double dropout) {
    this(dModel, nhead, dimFeedforward, dropout, "relu", 1e-5, false, false);
  }

  /** @param activation {@code "relu"} or {@code "gelu"} (PyTorch's strings) */
  public TransformerDecoderLayer(int dModel, int nhead, int dimFeedforward, double dropout, String activation,
      double layerNormEps, boolean batchFirst, boolean normFirst) {
    this(new Spec(dModel, nhead, dimFeedforward, dropout, activation, layerNormEps, batchFirst, normFirst));
  }

  /**
   * PyTorch's {@code activation} given as a module, {@code nn.TransformerDecoderLayer(..., nn.GELU(approximate='tanh'),
   * ...)}: one of {@link #ACTIVATION_LAYERS} (a copy is held, child {@code activation}; no parameters, so the
   * state-dict keys are the string form's).
   */
  public TransformerDecoderLayer(int dModel, int nhead, int dimFeedforward, double dropout, Layer<?> activation,
      double layerNormEps, boolean batchFirst, boolean normFirst) {
    this(new Spec(dModel, nhead, dimFeedforward, dropout, activationOf("TransformerDecoderLayer", activation),
        layerNormEps, batchFirst, normFirst));
  }

  /** A layer of these hyper-parameters, freshly initialised. */
  public TransformerDecoderLayer(Spec spec) {
    super(spec);
    int d = spec.dModel();
    selfAttn = registerModule("self_attn", new MultiheadAttention(d, spec.nhead(), spec.dropout(), true, spec.batchFirst()));
    multiheadAttn = registerModule("multihead_attn",
        new MultiheadAttention(d, spec.nhead(), spec.dropout(), true, spec.batchFirst()));
    linear1 = registerModule("linear1", new Linear(d, spec.dimFeedforward()));
    dropout = registerModule("dropout", new Dropout(spec.dropout()));
    linear2 = registerModule("linear2", new Linear(spec.dimFeedforward(), d));
    norm1 = registerModule("norm1", new LayerNorm(new int[] {d}, spec.layerNormEps(), true));
    norm2 = registerModule("norm2", new LayerNorm(new int[] {d}, spec.layerNormEps(), true));
    norm3 = registerModule("norm3", new LayerNorm(new int[] {d}, spec.layerNormEps(), true));
    dropout1 = registerModule("dropout1", new Dropout(spec.dropout()));
    dropout2 = registerModule("dropout2", new Dropout(spec.dropout()));
    dropout3 = registerModule("dropout3", new Dropout(spec.dropout()));
    activation = registerActivation(this, spec.activationLayer());
  }

  /** {@code block}'s activation layer of {@code spec} registered as its child {@code activation}, as PyTorch's; null for none. */
  static Layer<?> registerActivation(Module block, LayerSpec spec) {
    return spec == null ? null : block.registerModule("activation", activationModule(spec));
  }

  /** The target's self-attention. */
  public MultiheadAttention selfAttn() {
    return selfAttn;
  }

  /** The attention over the memory (PyTorch's {@code multihead_attn}). */
  public MultiheadAttention multiheadAttn() {
    return multiheadAttn;
  }

  /** Refused: a decoder block needs the memory too. */
  @Override
  public Tensor forward(Tensor tgt) {
    throw new UnsupportedOperationException(this + " needs the encoder's output too: forward(tgt, memory)");
  }

  /** {@code forward(tgt, memory, null, null, null, null)}: no masks. */
  public Tensor forward(Tensor tgt, Tensor memory) {
    return forward(tgt, memory, null, null, null, null);
  }

  /**
   * PyTorch's {@code forward(tgt, memory, tgt_mask, memory_mask, tgt_key_padding_mask, memory_key_padding_mask)}.
   *
   * @param tgtMask float {@code [T, T]} or {@code [N * nhead, T, T]} added to the self-attention's scores (causal:
   *     {@link Transformer#generateSquareSubsequentMask}), or null
   * @param memoryMask float {@code [T, S]} or {@code [N * nhead, T, S]} added to the scores over the memory, or null
   * @param tgtKeyPaddingMask float {@code [N, T]}, or null
   * @param memoryKeyPaddingMask float {@code [N, S]}, or null
   * @throws ShapeException naming this layer when the target or memory (or a mask) has the wrong shape
   */
  public Tensor forward(Tensor tgt, Tensor memory, Tensor tgtMask, Tensor memoryMask, Tensor tgtKeyPaddingMask,
      Tensor memoryKeyPaddingMask) {
    outputShape(tgt.shape());
    if (memory.dim() != tgt.dim()) {
      throw new ShapeException(this + ": memory must have the target's rank, got tgt " + Shapes.toString(tgt.shape())
          + ", memory " + Shapes.toString(memory.shape()));
    }
    outputShape(memory.shape());
    Intermediates run = intermediates(tgt); // under no grad: the maps in between given back once the output is made
    Tensor x = tgt;
    Tensor out;
    if (spec().normFirst()) {
      Tensor n1 = norm1.apply(x);
      Tensor sa = selfAttention(n1, tgtMask, tgtKeyPaddingMask);
      Tensor x1 = x.add(sa);
      Tensor n2 = norm2.apply(x1);
      Tensor ma = memoryAttention(n2, memory, memoryMask, memoryKeyPaddingMask);
      Tensor x2 = x1.add(ma);
      Tensor n3 = norm3.apply(x2);
      Tensor ff = feedForward(n3, run);
      out = x2.add(ff);
      hold(run, n1, sa, x1, n2, ma, x2, n3, ff);
    } else {
      Tensor sa = selfAttention(x, tgtMask, tgtKeyPaddingMask);
      Tensor s1 = x.add(sa);
      Tensor x1 = norm1.apply(s1);
      Tensor ma = memoryAttention(x1, memory, memoryMask, memoryKeyPaddingMask);
      Tensor s2 = x1.add(ma);
      Tensor x2 = norm2.apply(s2);
      Tensor ff = feedForward(x2, run);
      Tensor s3 = x2.add(ff);
      out = norm3.apply(s3);
      hold(run, sa, s1, x1, ma, s2, x2, ff, s3);
    }
    if (run != null) {
      run.next(out);
    }
    return out;
  }

  private Tensor selfAttention(Tensor x, Tensor mask, Tensor keyPaddingMask) {
    return dropout1.apply(selfAttn.forward(x, x, x, keyPaddingMask, false, mask).output());
  }

  private Tensor memoryAttention(Tensor x, Tensor memory, Tensor mask, Tensor keyPaddingMask) {
    return dropout2.apply(multiheadAttn.forward(x, memory, memory, keyPaddingMask, false, mask).output());
  }

  /** The feed-forward block; its hidden maps go to {@code run} (may be null) to be given back after the layer's output. */
  private Tensor feedForward(Tensor x, Intermediates run) {
    Tensor h = linear1.apply(x);
    Tensor a = activation != null ? activation.apply(h) : "gelu".equals(spec().activation()) ? F.gelu(h) : F.relu(h);
    hold(run, h, a);
    return dropout3.apply(linear2.apply(dropout.apply(a)));
  }
}
