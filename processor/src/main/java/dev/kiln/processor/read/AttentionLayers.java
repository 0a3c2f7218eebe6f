package dev.kiln.processor.read;

import static dev.kiln.processor.read.LayerCatalog.bool;
import static dev.kiln.processor.read.LayerCatalog.integer;
import static dev.kiln.processor.read.LayerCatalog.number;

import dev.kiln.dsl.Dropout;
import dev.kiln.dsl.LayerNorm;
import dev.kiln.dsl.LayerSpec;
import dev.kiln.dsl.Linear;
import dev.kiln.dsl.MultiheadAttention;
import dev.kiln.dsl.Softmax;
import dev.kiln.dsl.TransformerDecoderLayer;
import dev.kiln.dsl.TransformerEncoderLayer;
import dev.kiln.processor.ir.Add;
import dev.kiln.processor.ir.Cat;
import dev.kiln.processor.ir.LayerIr;
import dev.kiln.processor.ir.MaskedFill;
import dev.kiln.processor.ir.MatMul;
import dev.kiln.processor.ir.Pad;
import dev.kiln.processor.ir.Reduce;
import dev.kiln.processor.ir.Reshape;
import dev.kiln.processor.ir.Scale;
import dev.kiln.processor.ir.Source;
import dev.kiln.processor.ir.Split;
import dev.kiln.processor.ir.TensorIr;
import dev.kiln.processor.ir.Transpose;
import dev.kiln.runtime.Shapes;
import java.util.List;
import java.util.Map;

/**
 * The dsl's attention layers compiled: {@code MultiheadAttention}, {@code TransformerEncoderLayer}, {@code
 * TransformerEncoder}, {@code TransformerDecoderLayer}, {@code TransformerDecoder} and {@code F.scaledDotProductAttention}, each expanded where forward applies it into the steps a user
 * writes by hand (docs/design-notes.md, "Compiled attention layers"): the packed in-projection as one product by {@code
 * in_proj_weight} read transposed, its bias, a split into q, k and v, heads by view and transpose, the scores' batched
 * product scaled, a causal fill, softmax, dropout in training, the weights' product by v, the heads joined, {@code
 * out_proj}; the encoder and decoder layers' residuals, LayerNorms (before or after each block) and feed-forward part. The layers'
 * parameters keep their eager (PyTorch) names: {@code in_proj_weight} is read by its registered name, the children
 * ({@code out_proj}, {@code linear1}, {@code norm1}, {@code layers.0}) are layers at their paths.
 */
final class AttentionLayers {
  private AttentionLayers() {}

  /** How the expansion writes steps: the reader's own step list, at the call being read. */
  interface Writer {
    /** A step reading {@code inputs}; its value. */
    String step(List<String> inputs, LayerSpec spec, LayerIr layer, String text);

    /** The shape of a value read so far (the batch {@code -1} first), or null when an error left it unknown (reported). */
    int[] shapeOf(String value);

    /** A parameter of a layer that the steps read ({@code in_proj_weight}), counted as read; its value. */
    String tensor(TensorIr t);

    /** A new split's id. */
    int split();

    /** The training mode {@code owner} (a layer's path) is read in, noted as read there; null where no mode is read. */
    Boolean training(String owner);

    /** The call being expanded, for the steps' comments and errors. */
    Source where();
  }

  /** What the call asks that a compiled forward does not do; the message says what to write instead. */
  static final class Unsupported extends Exception {
    Unsupported(String message) {
      super(message, null, false, false);
    }
  }

  // ------------------------------------------------------------------ declarations

  /** {@code new MultiheadAttention(embedDim, numHeads[, dropout, bias, batchFirst])}. */
  static MultiheadAttention.Spec attention(List<Object> args) throws LayerCatalog.BadArguments {
    try {
      return switch (args.size()) {
        case 2 -> new MultiheadAttention.Spec(integer(args, 0), integer(args, 1), 0, true, false);
        case 5 -> new MultiheadAttention.Spec(integer(args, 0), integer(args, 1), number(args, 2), bool(args, 3), bool(args, 4));
        case 9 -> new MultiheadAttention.Spec(integer(args, 0), integer(args, 1), number(args, 2), bool(args, 3), bool(args, 8),
            integer(args, 6), integer(args, 7), bool(args, 4), bool(args, 5)); // PyTorch's order: ..., add_bias_kv, add_zero_attn, kdim, vdim, batch_first
        default -> throw new LayerCatalog.BadArguments("MultiheadAttention takes (embed_dim, num_heads[, dropout, bias, batch_first])"
            + " or (embed_dim, num_heads, dropout, bias, add_bias_kv, add_zero_attn, kdim, vdim, batch_first)");
      };
    } catch (IllegalArgumentException e) {
      throw new LayerCatalog.BadArguments(e.getMessage());
    }
  }

  /** {@code new TransformerEncoderLayer(dModel, nhead[, dimFeedforward, dropout[, activation, layerNormEps, batchFirst, normFirst]])}. */
  static TransformerEncoderLayer.Spec encoderLayer(List<Object> args) throws LayerCatalog.BadArguments {
    return block("TransformerEncoderLayer", args, TransformerEncoderLayer.Spec::new);
  }

  /** {@code new TransformerDecoderLayer(...)}: the encoder layer's arguments. */
  static TransformerDecoderLayer.Spec decoderLayer(List<Object> args) throws LayerCatalog.BadArguments {
    return block("TransformerDecoderLayer", args, TransformerDecoderLayer.Spec::new);
  }

  /** A transformer block's spec made from its eight hyper-parameters and the activation's layer (null for a string). */
  private interface BlockSpec<S> {
    S of(int dModel, int nhead, int dimFeedforward, double dropout, String activation, double layerNormEps, boolean batchFirst,
        boolean normFirst, LayerSpec activationLayer);
  }

  /** The constructor arguments of the transformer block {@code layer}, with PyTorch's defaults, as {@code make} takes them. */
  private static <S> S block(String layer, List<Object> args, BlockSpec<S> make) throws LayerCatalog.BadArguments {
    try {
      return switch (args.size()) {
        case 2 -> make.of(integer(args, 0), integer(args, 1), 2048, 0.1, "relu", 1e-5, false, false, null);
        case 4 -> make.of(integer(args, 0), integer(args, 1), integer(args, 2), number(args, 3), "relu", 1e-5, false, false,
            null);
        case 8 -> make.of(integer(args, 0), integer(args, 1), integer(args, 2), number(args, 3), String.valueOf(args.get(4)),
            number(args, 5), bool(args, 6), bool(args, 7), args.get(4) instanceof LayerSpec a ? a : null);
        default -> throw new LayerCatalog.BadArguments(layer + " takes (d_model, nhead[, dim_feedforward, dropout[,"
            + " activation, layer_norm_eps, batch_first, norm_first]])");
      };
    } catch (IllegalArgumentException e) {
      throw new LayerCatalog.BadArguments(e.getMessage());
    }
  }

  /**
   * {@code nn.Transformer} as the reader holds it: its {@code encoder} and {@code decoder} stacks, each the node a {@code
   * TransformerEncoder}/{@code TransformerDecoder} field would be (at {@code transformer.encoder}, {@code
   * transformer.decoder}, their final norms included); the shape rule the decoder's (the output is shaped as the target).
   */
  record TransformerSpec(LayerNode.Att encoder, LayerNode.Att decoder) implements LayerSpec {
    @Override
    public int[] outputShape(int[] tgt) {
      return decoder.spec().outputShape(tgt);
    }

    @Override
    public String toString() {
      TransformerDecoderLayer.Spec d = (TransformerDecoderLayer.Spec) decoder.spec();
      return "Transformer(d_model=" + d.dModel() + ", nhead=" + d.nhead() + ", num_encoder_layers=" + encoder.count()
          + ", num_decoder_layers=" + decoder.count() + ", batch_first=" + (d.batchFirst() ? "True" : "False") + ")";
    }
  }

  /** The stacks {@code new Transformer(...)} makes: its layers' specs and their counts. */
  record TransformerArgs(TransformerEncoderLayer.Spec encoderLayer, TransformerDecoderLayer.Spec decoderLayer,
      int encoderLayers, int decoderLayers) {}

  /**
   * {@code new Transformer(...)}'s constant arguments, {@code ()} or {@code (dModel, nhead, numEncoderLayers,
   * numDecoderLayers, dimFeedforward, dropout[, activation, layerNormEps, batchFirst, normFirst])}, with PyTorch's defaults
   * for the rest.
   */
  static TransformerArgs transformer(List<Object> args) throws LayerCatalog.BadArguments {
    List<Object> all = new java.util.ArrayList<>(args);
    switch (args.size()) {
      case 0 -> all.addAll(List.of(512, 8, 6, 6, 2048, 0.1, "relu", 1e-5, false, false));
      case 6 -> all.addAll(List.of("relu", 1e-5, false, false));
      case 10 -> { }
      default -> throw new LayerCatalog.BadArguments("Transformer takes (d_model, nhead, num_encoder_layers, num_decoder_layers,"
          + " dim_feedforward, dropout[, activation, layer_norm_eps, batch_first, norm_first]) or (encoder, decoder)");
    }
    List<Object> layer = new java.util.ArrayList<>(all.subList(0, 2)); // the layers' (d_model, nhead, dim_feedforward, ...)
    layer.addAll(all.subList(4, 10));
    return new TransformerArgs(encoderLayer(layer), decoderLayer(layer), integer(all, 2), integer(all, 3));
  }

  /** A decoder layer's hyper-parameters as the encoder layer's spec, which the shared parts of the expansion read. */
  private static TransformerEncoderLayer.Spec asBlock(TransformerDecoderLayer.Spec d) {
    return new TransformerEncoderLayer.Spec(d.dModel(), d.nhead(), d.dimFeedforward(), d.dropout(), d.activation(),
        d.layerNormEps(), d.batchFirst(), d.normFirst(), d.activationLayer());
  }

  /** The layers a MultiheadAttention at {@code path} holds, as its eager class registers them: {@code out_proj}. */
  static void attentionLayers(String path, MultiheadAttention.Spec s, Source source, Map<String, LayerIr> out) {
    out.put(path + ".out_proj", new LayerIr(path + ".out_proj", new Linear.Spec(s.embedDim(), s.embedDim(), s.bias()), source));
  }

  /** The layers an encoder layer at {@code path} holds, in its eager class's order ({@code self_attn.out_proj}, {@code linear1}, ...). */
  static void encoderLayers(String path, TransformerEncoderLayer.Spec s, Source source, Map<String, LayerIr> out) {
    attentionLayers(path + ".self_attn", selfAttn(s), source, out);
    blockLayers(path, s, 2, source, out);
  }

  /**
   * The layers a decoder layer at {@code path} holds, in its eager class's order ({@code self_attn.out_proj}, {@code
   * multihead_attn.out_proj}, {@code linear1}, ..., {@code norm3}, {@code dropout3}).
   */
  static void decoderLayers(String path, TransformerDecoderLayer.Spec d, Source source, Map<String, LayerIr> out) {
    TransformerEncoderLayer.Spec s = asBlock(d);
    attentionLayers(path + ".self_attn", selfAttn(s), source, out);
    attentionLayers(path + ".multihead_attn", selfAttn(s), source, out);
    blockLayers(path, s, 3, source, out);
  }

  /** A block's feed-forward part, then {@code norm1..n} and {@code dropout1..n} ({@code n} 2 for the encoder, 3 for the decoder). */
  private static void blockLayers(String path, TransformerEncoderLayer.Spec s, int n, Source source, Map<String, LayerIr> out) {
    int d = s.dModel();
    put(out, path + ".linear1", new Linear.Spec(d, s.dimFeedforward(), true), source);
    put(out, path + ".dropout", new Dropout.Spec(s.dropout()), source);
    put(out, path + ".linear2", new Linear.Spec(s.dimFeedforward(), d, true), source);
    for (int i = 1; i <= n; i++) {
      put(out, path + ".norm" + i, new LayerNorm.Spec(new int[] {d}, s.layerNormEps(), true), source);
    }
    for (int i = 1; i <= n; i++) {
      put(out, path + ".dropout" + i, new Dropout.Spec(s.dropout()), source);
    }
  }

  private static void put(Map<String, LayerIr> out, String path, LayerSpec spec, Source source) {
    out.put(path, new LayerIr(path, spec, source));
  }

  /** An encoder layer's {@code self_attn}, as its constructor makes it. */
  private static MultiheadAttention.Spec selfAttn(TransformerEncoderLayer.Spec s) {
    return new MultiheadAttention.Spec(s.dModel(), s.nhead(), s.dropout(), true, s.batchFirst());
  }

  // ------------------------------------------------------------------ forward

  /**
   * The MultiheadAttention at {@code path} over {@code query}, {@code key} and {@code value} ({@code mha.forward(q, k, v,
   * ...).output()}; {@code mha.apply(x)} is self-attention, all three {@code x}): the in-projection, the heads, {@code
   * softmax(q k^T / sqrt(Dh) + mask)}, dropout in training, {@code @ v}, the heads joined and {@code out_proj}. Self-attention
   * projects as PyTorch's packed path, {@code linear(x, in_proj_weight, in_proj_bias).split(E, -1)}: one product; otherwise
   * each input by its block of rows of {@code in_proj_weight} (a region of the parameter, read in place). Its value {@code
   * [N, L, E]}.
   */
  static String attention(Writer w, String path, MultiheadAttention.Spec s, Map<String, LayerIr> layers, String query,
      String key, String value, String mask, String padding) throws Unsupported {
    return attention(w, path, s, layers, query, key, value, mask, padding, null);
  }

  /**
   * As {@link #attention(Writer, String, MultiheadAttention.Spec, Map, String, String, String, String, String)}, or, with
   * {@code weights} not null, its attention weights ({@code mha.forward(q, k, v, ...).weights()}): the softmax's output
   * after dropout (PyTorch 1.13's), averaged over the heads ({@code [N, L, S]}, {@code weights} true: PyTorch's default
   * {@code average_attn_weights=True}) or per head ({@code [N, H, L, S]}); the expansion ends there.
   */
  static String attention(Writer w, String path, MultiheadAttention.Spec s, Map<String, LayerIr> layers, String query,
      String key, String value, String mask, String padding, Boolean weights) throws Unsupported {
    String[] run = run(w, path, s, layers, query, key, value, mask, padding, weights == null);
    return run == null ? null : weights == null ? run[0] : weights ? averaged(w, path, run[1]) : run[1];
  }

  /** The attention weights per head {@code [N, H, L, S]} averaged over the heads, as eager's {@code weights.mean(1)}. */
  static String averaged(Writer w, String path, String weights) {
    return w.step(List.of(weights), new Reduce(true, 1, false), null, path + ": weights.mean(1) (averaged over heads)");
  }

  /**
   * One run of the MultiheadAttention at {@code path}: its output (null unless {@code output}: the expansion then ends at
   * the weights, v never projected) and its weights per head after dropout, {@code [N, H, L, S]}; null after an error.
   */
  static String[] run(Writer w, String path, MultiheadAttention.Spec s, Map<String, LayerIr> layers, String query,
      String key, String value, String mask, String padding, boolean output) throws Unsupported {
    int e = s.embedDim();
    int[] qs = w.shapeOf(query);
    int[] ks = w.shapeOf(key);
    int[] vs = w.shapeOf(value);
    if (qs == null || ks == null || vs == null) {
      return null;
    }
    String who = path + " " + s;
    if (!s.batchFirst()) {
      throw new Unsupported(who + " is sequence first ([L, N, E]), but a compiled forward holds the batch first: in eager"
          + " mode it would attend along dimension 0, the batch; construct it with batchFirst true (PyTorch's"
          + " batch_first=True) and pass [N, L, E], or leave out @Model");
    }
    if (qs[0] != -1 || ks[0] != -1 || vs[0] != -1) { // (a tensor field has no batch: a learned query, pos.expand(...) eagerly)
      throw new Unsupported(who + ": query, key and value must be values of the batch [N, ..., E], as PyTorch's batch_first"
          + " layer needs them; expand a tensor field of the model (a learned query [1, L, E]) over the batch first:"
          + " attn.forward(query.expand(x.size(0), -1, -1), x, x)");
    }
    if (qs.length != 3 || qs[2] != e || ks.length != 3 || ks[2] != s.kdim() || vs.length != 3 || vs[2] != s.vdim()
        || ks[1] != vs[1]) {
      throw new Unsupported(who + " expects query [N, L, " + e + "] and " + (s.sameEmbedDim() ? "key and value [N, S, " + e + "]"
          : "key [N, S, " + s.kdim() + "] and value [N, S, " + s.vdim() + "]") + " (batch first), receives " + Shapes.toString(qs)
          + (query.equals(key) && key.equals(value) ? "" : ", " + Shapes.toString(ks) + ", " + Shapes.toString(vs)));
    }
    Source source = layers.get(path + ".out_proj").source();
    TensorIr bias = !s.bias() ? null : parameter(path + ".in_proj_bias", new int[] {3 * e}, source);
    String[] inputs = {query, key, value};
    String[] names = {"q", "k", "v"};
    String[] projected = new String[3];
    int used = output ? 3 : 2; // the weights alone read no values: v is left out
    if (s.sameEmbedDim() && query.equals(key) && key.equals(value)) {
      TensorIr weight = parameter(path + ".in_proj_weight", new int[] {3 * e, e}, source);
      String qkv = w.step(List.of(query, w.tensor(weight)), new MatMul(true), null, path + ": x @ in_proj_weight^T");
      if (bias != null) {
        qkv = w.step(List.of(qkv, w.tensor(bias)), new Add(), null, path + ": x @ in_proj_weight^T + in_proj_bias");
      }
      Split split = new Split(Split.Kind.SIZE, e, new int[0], -1, w.split(), path + ": qkv.split(" + e + ", -1)", w.where());
      for (int i = 0; i < used; i++) {
        projected[i] = w.step(List.of(qkv), new Split.Piece(split, i), null, path + ": " + names[i] + " = qkv[" + i + "]");
      }
    } else {
      TensorIr packed = s.sameEmbedDim() ? parameter(path + ".in_proj_weight", new int[] {3 * e, e}, source) : null;
      if (packed != null) {
        w.tensor(packed);
      }
      if (bias != null) {
        w.tensor(bias);
      }
      int[] widths = {e, s.kdim(), s.vdim()};
      for (int i = 0; i < used; i++) { // rows [i E, (i + 1) E) of the packed weight, as eager's narrow reads them; or q/k/v_proj_weight
        String rows = ".narrow(0, " + i * e + ", " + e + ")";
        String block = packed != null ? w.tensor(TensorIr.region(packed, rows, i * e * e, new int[] {e, e}, source))
            : w.tensor(parameter(path + "." + names[i] + "_proj_weight", new int[] {e, widths[i]}, source));
        String weightName = packed != null ? "in_proj_weight" + rows : names[i] + "_proj_weight";
        projected[i] = w.step(List.of(inputs[i], block), new MatMul(true), null,
            path + ": " + names[i] + " = " + List.of("query", "key", "value").get(i) + " @ " + weightName + "^T");
        if (bias != null) {
          String b = w.tensor(TensorIr.region(bias, rows, i * e, new int[] {e}, source));
          projected[i] = w.step(List.of(projected[i], b), new Add(), null, path + ": " + names[i] + " + in_proj_bias" + rows);
        }
      }
    }
    if (s.addBiasKv()) { // PyTorch's cat([k, bias_k.repeat(1, N, 1)]) along the sequence, and v's
      for (int i = 1; i < used; i++) {
        projected[i] = appendBias(w, path, names[i], projected[i], parameter(path + ".bias_" + names[i], new int[] {1, 1, e}, source));
      }
    }
    String[] heads = new String[3];
    for (int i = 0; i < used; i++) {
      int[] ps = w.shapeOf(projected[i]);
      if (ps == null) {
        return null;
      }
      int len = ps[1];
      String viewed = w.step(List.of(projected[i]), new Reshape(List.of(-1, len, s.numHeads(), s.headDim())), null,
          path + ": " + names[i] + ".view(-1, " + len + ", " + s.numHeads() + ", " + s.headDim() + ")");
      heads[i] = w.step(List.of(viewed), new Transpose(1, 2), null, path + ": " + names[i] + " heads, transpose(1, 2)");
    }
    if (s.addZeroAttn()) { // PyTorch's cat of a zero key and value after the heads' split
      for (int i = 1; i < used; i++) {
        heads[i] = w.step(List.of(heads[i]), new Pad(List.of(0, 0, 0, 1), 0f), null, path + ": " + names[i]
            + " = cat([" + names[i] + ", zeros(N, H, 1, " + s.headDim() + ")], 2) (add_zero_attn)");
      }
    }
    int extra = (s.addBiasKv() ? 1 : 0) + (s.addZeroAttn() ? 1 : 0);
    String pad = paddingMask(w, path, who, padding, ks[1]);
    if (pad != null && extra > 0) { // the keys appended are never padded: zeros in their columns, as eager's F.pad of the mask
      pad = w.step(List.of(pad), new Pad(List.of(0, extra), 0f), null, path + ": key_padding_mask padded with " + extra
          + " zero column" + (extra > 1 ? "s" : "") + " (the keys appended)");
    }
    boolean causal = causalSize(mask) >= 0;
    if (causal && (causalSize(mask) != qs[1] || causalSize(mask) != ks[1])) {
      throw new Unsupported(who + ": attn_mask must be [L, S] = " + Shapes.toString(qs[1], ks[1]) + ", got"
          + " generateSquareSubsequentMask(" + causalSize(mask) + "), " + Shapes.toString(causalSize(mask), causalSize(mask)));
    }
    String weights = attend(w, path, heads[0], heads[1], null, causal ? null : attentionMask(w, who, mask, qs[1], ks[1]), pad,
        s.dropout(), path, causal, extra);
    if (weights == null || !output) {
      return weights == null ? null : new String[] {null, weights};
    }
    String joined = w.step(List.of(weights, heads[2]), new MatMul(), null, path + ": weights @ v");
    String back = w.step(List.of(joined), new Transpose(1, 2), null, path + ": heads joined, transpose(1, 2)");
    String rows = w.step(List.of(back), new Reshape(List.of(-1, qs[1], e)), null,
        path + ": heads joined, reshape(-1, " + qs[1] + ", " + e + ")");
    LayerIr outProj = layers.get(path + ".out_proj");
    return new String[] {w.step(List.of(rows), outProj.spec(), outProj, path + ".out_proj"), weights};
  }

  /** A parameter of the MultiheadAttention, read by its registered name {@code key} ({@code attn.in_proj_weight}). */
  private static TensorIr parameter(String key, int[] shape, Source source) {
    return new TensorIr(key, key, TensorIr.Kind.PARAMETER, shape, source);
  }

  /**
   * {@code cat([x, bias.repeat(N, 1, 1)], 1)} of the projected keys or values {@code x [N, S, E]} and {@code bias_k}/{@code
   * bias_v [1, 1, E]}: {@code [N, S + 1, E]}. The bias becomes a row of each sample as {@code x}'s last row times 0 plus the
   * bias (exact, the bias's gradient the sum over the batch, as eager's expand gives), then joined to {@code x}.
   */
  private static String appendBias(Writer w, String path, String name, String x, TensorIr bias) {
    int[] xs = w.shapeOf(x);
    if (xs == null) {
      return null;
    }
    int e = xs[2];
    w.tensor(bias); // (the region below reads the parameter's field)
    String last = xs[1] == 1 ? x : w.step(List.of(x), new Pad(List.of(0, 0, 1 - xs[1], 0), 0f), null,
        path + ": " + name + "[:, -1:] (a row of each sample)");
    String zero = w.step(List.of(last), Scale.times(0), null, path + ": " + name + "[:, -1:] * 0");
    String row = w.step(List.of(zero, w.tensor(TensorIr.region(bias, ".view(" + e + ")", 0, new int[] {e}, bias.source()))),
        new Add(), null, path + ": bias_" + name + ".repeat(N, 1, 1)");
    return w.step(List.of(x, row), new Cat(1), null, path + ": " + name + " = cat([" + name + ", bias_" + name + "], 1) (add_bias_kv)");
  }

  /**
   * {@code softmax(q k^T / sqrt(E)) v} over heads {@code [N, ..., L, E]}, as {@code Attention.compute} writes it: the key
   * transposed (a GEMM flag), the product scaled (its alpha), the causal fill, softmax, dropout with probability {@code p}
   * (in training of the module at {@code owner}; always, for the function: {@code owner} null), the weights' product by v;
   * a float {@code mask} (a tensor field of the model's, or null) and {@code padding} (each sample's {@code [N, 1, 1, S]},
   * or null) added to the scaled scores. The weights themselves where {@code v} is null. The last {@code extra} keys
   * (add_bias_kv's and add_zero_attn's) are outside the attention mask and the causal fill: eager's mask padded with zeros.
   */
  private static String attend(Writer w, String path, String q, String k, String v, String mask, String padding, double p,
      String owner, boolean causal, int extra) throws Unsupported {
    int[] qs = w.shapeOf(q);
    int[] ks = w.shapeOf(k);
    if (qs == null || ks == null) {
      return null;
    }
    int r = qs.length;
    String kt = w.step(List.of(k), new Transpose(r - 2, r - 1), null, path + ": k.transpose(-2, -1)");
    String scores = w.step(List.of(q, kt), new MatMul(), null, path + ": q @ k^T");
    double scale = 1.0 / Math.sqrt(qs[r - 1]);
    scores = w.step(List.of(scores), Scale.times(scale), null, "scores.mul(1 / sqrt(" + qs[r - 1] + "))"); // (the product's alpha)
    if (extra > 0 && (mask != null || causal)) {
      scores = maskedBeforeExtraKeys(w, path, scores, mask, causal, extra);
    } else if (mask != null) {
      scores = w.step(List.of(scores, mask), new Add(), null, path + ": scores + attn_mask");
    }
    if (padding != null) {
      scores = w.step(List.of(scores, padding), new Add(), null, path + ": scores + key_padding_mask");
    }
    if (causal && extra == 0) {
      scores = w.step(List.of(scores), MaskedFill.causal(qs[r - 2], ks[r - 2], Float.NEGATIVE_INFINITY, "isCausal"), null,
          path + ": scores.maskedFill(causal, -inf)");
    }
    String weights = w.step(List.of(scores), new Softmax.Spec(-1), null, path + ": scores.softmax(-1)");
    if (p > 0) {
      Boolean training = owner == null ? Boolean.TRUE : w.training(owner);
      if (training == null) {
        throw new Unsupported(path + ": its dropout on the attention weights (" + p + ") depends on the training mode, which a"
            + " Sequential's compiled form does not read; declare the model as a @Model class, or a dropout of 0");
      }
      if (training) {
        weights = w.step(List.of(weights), new Dropout.Spec(p), null, path + ": weights dropout(" + p + ")");
      }
    }
    return v == null ? weights : w.step(List.of(weights, v), new MatMul(), null, path + ": weights @ v");
  }

  /**
   * The scores {@code [N, H, L, S + extra]} with the attention mask {@code [L, S]} added to (or the causal fill over) their
   * first {@code S} keys, the {@code extra} keys appended (add_bias_kv, add_zero_attn) as they are: eager's {@code
   * F.pad(attn_mask, (0, extra))}, whose zero columns add nothing. The two parts are cropped, the first masked, and joined.
   */
  private static String maskedBeforeExtraKeys(Writer w, String path, String scores, String mask, boolean causal, int extra) {
    int[] ss = w.shapeOf(scores);
    int l = ss[ss.length - 2];
    int keys = ss[ss.length - 1] - extra;
    String head = w.step(List.of(scores), new Pad(List.of(0, -extra), 0f), null, path + ": scores[..., :" + keys + "]");
    String tail = w.step(List.of(scores), new Pad(List.of(-keys, 0), 0f), null, path + ": scores[..., " + keys + ":] (the keys"
        + " appended, outside the attn_mask: its " + extra + " zero column" + (extra > 1 ? "s" : "") + ")");
    head = causal
        ? w.step(List.of(head), MaskedFill.causal(l, keys, Float.NEGATIVE_INFINITY, "isCausal"), null,
            path + ": scores[..., :" + keys + "].maskedFill(causal, -inf)")
        : w.step(List.of(head, mask), new Add(), null, path + ": scores[..., :" + keys + "] + attn_mask");
    return w.step(List.of(head, tail), new Cat(ss.length - 1), null, path + ": cat([masked scores, scores of the keys appended], -1)");
  }

  /**
   * {@code F.scaledDotProductAttention(q, k, v, null, dropoutP, isCausal)} of values {@code [N, ..., L, E]}: dropout
   * whenever {@code p > 0}, as the function's eager form ({@code isTraining() ? p : 0} folds in each mode).
   */
  static String scaledDotProduct(Writer w, String q, String k, String v, String mask, double p, boolean causal, String call)
      throws Unsupported {
    int[] qs = w.shapeOf(q);
    int[] ks = w.shapeOf(k);
    int[] vs = w.shapeOf(v);
    if (qs == null || ks == null || vs == null) {
      return null;
    }
    int r = qs.length;
    if (r < 3 || ks.length != r || vs.length != r || qs[r - 1] != ks[r - 1] || ks[r - 2] != vs[r - 2]) {
      throw new Unsupported(call + ": query, key and value must be [N, ..., L, E], [N, ..., S, E] and [N, ..., S, Ev] of one"
          + " rank, got " + Shapes.toString(qs) + ", " + Shapes.toString(ks) + ", " + Shapes.toString(vs));
    }
    if (!(p >= 0 && p <= 1)) {
      throw new Unsupported(call + ": dropout probability has to be between 0 and 1, but got " + p);
    }
    if (mask != null && causal) {
      throw new Unsupported(call + ": an explicit attn_mask must not be given with isCausal=true (PyTorch's rule); add the"
          + " causal mask to it yourself, or pass one of the two");
    }
    if (causalSize(mask) >= 0) { // generateSquareSubsequentMask(n): the causal fill
      if (causalSize(mask) != qs[r - 2] || causalSize(mask) != ks[r - 2]) {
        throw new Unsupported(call + ": attn_mask must be [L, S] = " + Shapes.toString(qs[r - 2], ks[r - 2]) + ", got"
            + " generateSquareSubsequentMask(" + causalSize(mask) + ")");
      }
      return attend(w, "scaledDotProductAttention", q, k, v, null, null, p, null, true, 0);
    }
    return attend(w, "scaledDotProductAttention", q, k, v, mask, null, p, null, causal, 0);
  }

  /**
   * The encoder layer at {@code path} over {@code x}: self-attention and the feed-forward part, each with dropout and a
   * residual connection, a LayerNorm after each sum (post-norm) or before each block ({@code normFirst}), as eager's forward.
   */
  static String encoderLayer(Writer w, String path, TransformerEncoderLayer.Spec s, Map<String, LayerIr> layers, String x,
      String mask, String padding) throws Unsupported {
    if (s.normFirst()) {
      String a = selfAttentionBlock(w, path, s, layers, apply(w, layers, path + ".norm1", x), mask, padding);
      x = a == null ? null : w.step(List.of(x, a), new Add(), null, path + ": x + self_attn(norm1(x))");
      String f = x == null ? null : feedForward(w, path, s, layers, apply(w, layers, path + ".norm2", x), ".dropout2");
      return f == null ? null : w.step(List.of(x, f), new Add(), null, path + ": x + feed_forward(norm2(x))");
    }
    String a = selfAttentionBlock(w, path, s, layers, x, mask, padding);
    if (a == null) {
      return null;
    }
    x = apply(w, layers, path + ".norm1", w.step(List.of(x, a), new Add(), null, path + ": x + self_attn(x)"));
    String f = feedForward(w, path, s, layers, x, ".dropout2");
    return f == null ? null : apply(w, layers, path + ".norm2", w.step(List.of(x, f), new Add(), null, path + ": x + feed_forward(x)"));
  }

  /** {@code dropout1(self_attn(x, x, x))}. */
  private static String selfAttentionBlock(Writer w, String path, TransformerEncoderLayer.Spec s, Map<String, LayerIr> layers,
      String x, String mask, String padding) throws Unsupported {
    String a = attention(w, path + ".self_attn", selfAttn(s), layers, x, x, x, mask, padding);
    return a == null ? null : dropout(w, layers, path + ".dropout1", a);
  }

  /**
   * The decoder layer at {@code path} over the target {@code x} and {@code memory}: self-attention ({@code tgtMask}, {@code
   * tgtPad}), attention over the memory ({@code multihead_attn}, the query the target; {@code memoryMask}, {@code memoryPad})
   * and the feed-forward part, each with dropout ({@code dropout1..3}) and a residual connection, a LayerNorm ({@code
   * norm1..3}) after each sum or before each block ({@code normFirst}), as eager's forward. Null after an error.
   */
  static String decoderLayer(Writer w, String path, TransformerDecoderLayer.Spec d, Map<String, LayerIr> layers, String x,
      String memory, String tgtMask, String memoryMask, String tgtPad, String memoryPad) throws Unsupported {
    TransformerEncoderLayer.Spec s = asBlock(d);
    MultiheadAttention.Spec a = selfAttn(s);
    boolean pre = s.normFirst();
    for (int block = 1; block <= 3 && x != null; block++) {
      String in = pre ? apply(w, layers, path + ".norm" + block, x) : x;
      if (in == null) {
        return null;
      }
      String out = switch (block) {
        case 1 -> attention(w, path + ".self_attn", a, layers, in, in, in, tgtMask, tgtPad);
        case 2 -> attention(w, path + ".multihead_attn", a, layers, in, memory, memory, memoryMask, memoryPad);
        default -> feedForward(w, path, s, layers, in, ".dropout3");
      };
      if (out == null) {
        return null;
      }
      if (block < 3) {
        out = dropout(w, layers, path + ".dropout" + block, out);
      }
      String name = List.of("self_attn", "multihead_attn", "feed_forward").get(block - 1);
      String sum = w.step(List.of(x, out), new Add(), null,
          path + ": x + " + name + (pre ? "(norm" + block + "(x))" : "(x)"));
      x = pre ? sum : apply(w, layers, path + ".norm" + block, sum);
    }
    return x;
  }

  /** The start of the mask argument that stands for {@code Transformer.generateSquareSubsequentMask(n)} (no value's name has a space). */
  private static final String CAUSAL = "causal mask ";

  /**
   * The mask argument for {@code Transformer.generateSquareSubsequentMask(size)} written in forward ({@code
   * transformer.forward(src, tgt, null, Transformer.generateSquareSubsequentMask(T), ...)}, PyTorch's habit): no tensor,
   * the expansion's causal fill of the scores ({@code -inf} above the diagonal, where eager adds the mask's {@code -inf};
   * 0 added elsewhere changes nothing), bit for bit eager's.
   */
  static String causalMask(int size) {
    return CAUSAL + size;
  }

  /** The size of a {@link #causalMask}, or -1 for another mask (or none). */
  private static int causalSize(String mask) {
    return mask != null && mask.startsWith(CAUSAL) ? Integer.parseInt(mask.substring(CAUSAL.length())) : -1;
  }

  /** What to write instead of an attention mask that is a value of the batch (a further input). */
  static final String BATCH_MASK = "a compiled attention layer takes an attn_mask held by the model (registerBuffer(\"mask\","
      + " F.attentionMask(Tensor.ones(S, S).triu(1))), added to the scores), the same for every sample; a mask of each sample"
      + " is the key padding mask (key_padding_mask, src_key_padding_mask)";

  /**
   * {@code attn_mask} of a layer as its scores {@code [N, H, L, S]} take it: a tensor field {@code [L, S]} (float, added:
   * {@code F.attentionMask} of a 0/1 one), or null for none.
   */
  private static String attentionMask(Writer w, String who, String mask, int l, int s) throws Unsupported {
    if (mask == null) {
      return null;
    }
    int[] ms = w.shapeOf(mask);
    if (ms == null) {
      return null;
    }
    if (ms.length > 0 && ms[0] == -1) {
      throw new Unsupported(who + ": its attn_mask is a value of the batch; " + BATCH_MASK);
    }
    if (ms.length != 2 || ms[0] != l || ms[1] != s) {
      throw new Unsupported(who + ": attn_mask must be [L, S] = " + Shapes.toString(l, s) + ", got " + Shapes.toString(ms)
          + " (a compiled layer takes the one mask of every sample and head)");
    }
    return mask;
  }

  /**
   * {@code key_padding_mask} as the scores {@code [N, H, L, S]} take it: each sample's float {@code [N, S]} (a further input
   * of a method of several inputs, 0 or -inf: {@code F.attentionMask} of a 0/1 one) viewed {@code [N, 1, 1, S]}, as eager's
   * {@code keyPaddingMask.view(n, 1, 1, S)}; null for none.
   */
  private static String paddingMask(Writer w, String path, String who, String padding, int s) throws Unsupported {
    if (padding == null) {
      return null;
    }
    int[] ps = w.shapeOf(padding);
    if (ps == null) {
      return null;
    }
    if (ps.length != 2 || ps[0] != -1 || ps[1] != s) {
      throw new Unsupported(who + ": key_padding_mask must be [N, S] = [N, " + s + "], one row of each sample (a further input,"
          + " @Input({" + s + "}) Tensor pad, made float by F.attentionMask), got " + Shapes.toString(ps));
    }
    return w.step(List.of(padding), new Reshape(List.of(-1, 1, 1, s)), null, path + ": key_padding_mask.view(-1, 1, 1, " + s + ")");
  }

  /** {@code dropoutN(linear2(dropout(activation(linear1(x)))))}, {@code last} naming the final dropout ({@code ".dropout2"}). */
  private static String feedForward(Writer w, String path, TransformerEncoderLayer.Spec s, Map<String, LayerIr> layers, String x,
      String last) {
    String h = apply(w, layers, path + ".linear1", x);
    h = w.step(List.of(h), s.activationSpec(), null, path + ": " + s.activation());
    h = dropout(w, layers, path + ".dropout", h);
    return dropout(w, layers, path + last, apply(w, layers, path + ".linear2", h));
  }

  /** The layer at {@code path} applied to {@code x}. */
  private static String apply(Writer w, Map<String, LayerIr> layers, String path, String x) {
    LayerIr layer = layers.get(path);
    return w.step(List.of(x), layer.spec(), layer, path);
  }

  /** The Dropout layer at {@code path} applied to {@code x}; {@code x} itself for a dropout of 0 (eager's identity). */
  private static String dropout(Writer w, Map<String, LayerIr> layers, String path, String x) {
    return ((Dropout.Spec) layers.get(path).spec()).p() == 0 ? x : apply(w, layers, path, x);
  }
}
