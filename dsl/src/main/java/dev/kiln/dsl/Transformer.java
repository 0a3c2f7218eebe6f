package dev.kiln.dsl;

import dev.kiln.runtime.Shapes;
import dev.kiln.runtime.Tensor;

/**
 * PyTorch 1.13's {@code nn.Transformer(d_model, nhead, num_encoder_layers, num_decoder_layers, dim_feedforward,
 * dropout, activation, custom_encoder, custom_decoder, layer_norm_eps, batch_first, norm_first)}: a
 * {@link TransformerEncoder} of {@code numEncoderLayers} layers and a final LayerNorm over the source, whose output
 * (the memory) a {@link TransformerDecoder} of {@code numDecoderLayers} layers and a final LayerNorm attends over
 * from the target. As PyTorch's, every parameter of more than one dimension is then redrawn Xavier-uniform (its
 * {@code _reset_parameters}); the state-dict keys are PyTorch's ({@code encoder.layers.0.self_attn.in_proj_weight},
 * ..., {@code encoder.norm.weight}, {@code decoder.layers.0.multihead_attn.in_proj_weight}, ...,
 * {@code decoder.norm.bias}).
 */
public class Transformer extends Module {
  private final int dModel;
  private final int nhead;
  private final boolean batchFirst;
  private final transient TransformerEncoder encoder;
  private final transient TransformerDecoder decoder;

  /** PyTorch's defaults: d_model 512, nhead 8, 6 + 6 layers, dim_feedforward 2048, dropout 0.1, relu, sequence first. */
  public Transformer() {
    this(512, 8, 6, 6, 2048, 0.1);
  }

  public Transformer(int dModel, int nhead, int numEncoderLayers, int numDecoderLayers, int dimFeedforward,
      double dropout) {
    this(dModel, nhead, numEncoderLayers, numDecoderLayers, dimFeedforward, dropout, "relu", 1e-5, false, false);
  }

  /** @param activation {@code "relu"} or {@code "gelu"} (PyTorch's strings) */
  public Transformer(int dModel, int nhead, int numEncoderLayers, int numDecoderLayers, int dimFeedforward,
      double dropout, String activation, double layerNormEps, boolean batchFirst, boolean normFirst) {
    this(new TransformerEncoder(new TransformerEncoderLayer(dModel, nhead, dimFeedforward, dropout, activation,
            layerNormEps, batchFirst, normFirst), numEncoderLayers, new LayerNorm(new int[] {dModel}, layerNormEps, true)),
        new TransformerDecoder(new TransformerDecoderLayer(dModel, nhead, dimFeedforward, dropout, activation,
            layerNormEps, batchFirst, normFirst), numDecoderLayers, new LayerNorm(new int[] {dModel}, layerNormEps, true)));
  }

  /**
   * PyTorch's {@code activation} given as a module, {@code nn.Transformer(..., activation=nn.GELU(approximate='tanh'),
   * ...)}: one of {@link TransformerDecoderLayer#ACTIVATION_LAYERS}, each layer holding its own copy.
   */
  public Transformer(int dModel, int nhead, int numEncoderLayers, int numDecoderLayers, int dimFeedforward,
      double dropout, Layer<?> activation, double layerNormEps, boolean batchFirst, boolean normFirst) {
    this(new TransformerEncoder(new TransformerEncoderLayer(dModel, nhead, dimFeedforward, dropout, activation,
            layerNormEps, batchFirst, normFirst), numEncoderLayers, new LayerNorm(new int[] {dModel}, layerNormEps, true)),
        new TransformerDecoder(new TransformerDecoderLayer(dModel, nhead, dimFeedforward, dropout, activation,
            layerNormEps, batchFirst, normFirst), numDecoderLayers, new LayerNorm(new int[] {dModel}, layerNormEps, true)));
  }

  /**
   * PyTorch's {@code custom_encoder} and {@code custom_decoder}: this encoder and decoder (their parameters of more
   * than one dimension redrawn Xavier-uniform, as PyTorch redraws a custom one's).
   */
  public Transformer(TransformerEncoder encoder, TransformerDecoder decoder) {
    if (encoder == null || decoder == null) {
      throw new IllegalArgumentException("Transformer: encoder and decoder must not be null");
    }
    TransformerEncoderLayer.Spec e = encoder.layers().get(0).spec();
    TransformerDecoderLayer.Spec d = decoder.layers().get(0).spec();
    if (e.dModel() != d.dModel() || e.batchFirst() != d.batchFirst()) {
      throw new IllegalArgumentException("Transformer: the encoder's layers (" + e + ") and the decoder's (" + d
          + ") must have the same d_model and batch_first");
    }
    this.dModel = d.dModel();
    this.nhead = d.nhead();
    this.batchFirst = d.batchFirst();
    this.encoder = registerModule("encoder", encoder);
    this.decoder = registerModule("decoder", decoder);
    for (Tensor p : parameters()) {
      if (p.dim() > 1) {
        Init.xavierUniform(p);
      }
    }
  }

  /**
   * A float mask {@code [sz, sz]} that hides each position's successors: 0 on and below the diagonal, -inf above it
   * (PyTorch's {@code Transformer.generate_square_subsequent_mask}), the causal {@code tgtMask}.
   */
  public static Tensor generateSquareSubsequentMask(int sz) {
    if (sz <= 0) {
      throw new IllegalArgumentException("generateSquareSubsequentMask: the size must be positive, got " + sz);
    }
    return Tensor.full(Float.NEGATIVE_INFINITY, sz, sz).triu(1);
  }

  public TransformerEncoder encoder() {
    return encoder;
  }

  public TransformerDecoder decoder() {
    return decoder;
  }

  public int dModel() {
    return dModel;
  }

  public int nhead() {
    return nhead;
  }

  public boolean batchFirst() {
    return batchFirst;
  }

  /** Refused: a transformer needs a source and a target. */
  @Override
  public Tensor forward(Tensor src) {
    throw new UnsupportedOperationException("Transformer needs a source and a target: forward(src, tgt)");
  }

  /** {@code forward(src, tgt, null, ...)}: no masks. */
  public Tensor forward(Tensor src, Tensor tgt) {
    return forward(src, tgt, null, null, null, null, null, null);
  }

  /**
   * PyTorch's {@code forward(src, tgt, src_mask, tgt_mask, memory_mask, src_key_padding_mask, tgt_key_padding_mask,
   * memory_key_padding_mask)}: the encoder over {@code src} with the source masks, then the decoder over {@code tgt}
   * and the memory with the others. Masks float, added to the scores (see {@link F#attentionMask}); the causal
   * {@code tgtMask} is {@link #generateSquareSubsequentMask}.
   *
   * @return the decoder's output, shaped as {@code tgt}
   * @throws ShapeException when the batches of {@code src} and {@code tgt} differ or their last size is not d_model
   */
  public Tensor forward(Tensor src, Tensor tgt, Tensor srcMask, Tensor tgtMask, Tensor memoryMask,
      Tensor srcKeyPaddingMask, Tensor tgtKeyPaddingMask, Tensor memoryKeyPaddingMask) {
    int[] ss = src.shape();
    int[] ts = tgt.shape();
    int batchDim = batchFirst ? 0 : 1;
    if (ss.length == 3 && ts.length == 3 && ss[batchDim] != ts[batchDim]) {
      throw new ShapeException("Transformer: the batch number of src and tgt must be equal, got src " + Shapes.toString(ss)
          + ", tgt " + Shapes.toString(ts) + (batchFirst ? " (batch first)" : " (sequence first)"));
    }
    if (ss[ss.length - 1] != dModel || ts[ts.length - 1] != dModel) {
      throw new ShapeException("Transformer: the feature number of src and tgt must be equal to d_model = " + dModel
          + ", got src " + Shapes.toString(ss) + ", tgt " + Shapes.toString(ts));
    }
    Tensor memory = encoder.forward(src, srcMask, srcKeyPaddingMask);
    return decoder.forward(tgt, memory, tgtMask, memoryMask, tgtKeyPaddingMask, memoryKeyPaddingMask);
  }

  @Override
  public int[] outputShape(int[] tgtShape) {
    return decoder.outputShape(tgtShape);
  }
}
