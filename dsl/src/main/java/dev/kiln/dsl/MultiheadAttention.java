package dev.kiln.dsl;

import dev.kiln.runtime.Ops;
import dev.kiln.runtime.Shapes;
import dev.kiln.runtime.Tensor;
import java.util.Arrays;
import java.util.List;

/**
 * Multi-head attention, as PyTorch 1.13's {@code nn.MultiheadAttention(embed_dim, num_heads, dropout, bias,
 * batch_first=batchFirst)}: query, key and value are projected by the three blocks of {@code in_proj_weight [3E, E]}
 * (and {@code in_proj_bias [3E]}), split into {@code numHeads} heads of {@code E / numHeads}, attended by
 * {@link F#scaledDotProductAttention} (dropout on the weights in training), joined and projected by {@code out_proj}
 * (a Linear(E, E)). The state dict has PyTorch's keys and shapes ({@code in_proj_weight}, {@code in_proj_bias},
 * {@code out_proj.weight}, {@code out_proj.bias}), so a PyTorch checkpoint loads, and the initialisation is
 * PyTorch's: {@code in_proj_weight} Xavier-uniform, both biases zero, {@code out_proj.weight} a Linear's default.
 *
 * <p>Inputs are {@code [L, N, E]} (query) and {@code [S, N, E]} (key, value), or {@code [N, L, E]} and {@code [N, S, E]}
 * with {@code batchFirst}, or unbatched {@code [L, E]} and {@code [S, E]}. {@link #forward(Tensor)} is self-attention
 * (query = key = value) returning the output alone, so the layer also fits a {@link Sequential}. Masks are float and
 * added to the scores (PyTorch's float masks): {@code attnMask [L, S]} or {@code [N * numHeads, L, S]},
 * {@code keyPaddingMask [N, S]}; PyTorch's boolean masks ({@code True} = blocked) become float ones by
 * {@link F#attentionMask}.
 *
 * <p>With {@code kdim}/{@code vdim} other than {@code embedDim} (keys and values of their own widths, cross-attention
 * over another model's states), the projections are PyTorch's three separate weights {@code q_proj_weight [E, E]},
 * {@code k_proj_weight [E, kdim]}, {@code v_proj_weight [E, vdim]} (each Xavier-uniform) in place of
 * {@code in_proj_weight}, with the same {@code in_proj_bias [3E]}. {@code addBiasKv} appends the learned
 * {@code bias_k}, {@code bias_v [1, 1, E]} (Xavier-normal) to the projected keys and values, {@code addZeroAttn} a
 * zero key and value after the heads' split; each appends a column of zeros to the masks, as PyTorch's.
 */
public class MultiheadAttention extends Layer<MultiheadAttention.Spec> {
  /**
   * MultiheadAttention's hyper-parameters and the shape rule of self-attention: {@code [*, E]} unchanged.
   *
   * @param kdim the keys' width ({@code embedDim} unless given)
   * @param vdim the values' width ({@code embedDim} unless given)
   */
  public record Spec(int embedDim, int numHeads, double dropout, boolean bias, boolean batchFirst, int kdim, int vdim,
      boolean addBiasKv, boolean addZeroAttn) implements LayerSpec {
    /** Keys and values of width {@code embedDim}, no bias_k/bias_v, no zero attention. */
    public Spec(int embedDim, int numHeads, double dropout, boolean bias, boolean batchFirst) {
      this(embedDim, numHeads, dropout, bias, batchFirst, embedDim, embedDim, false, false);
    }

    public Spec {
      if (kdim <= 0 || vdim <= 0) {
        throw new IllegalArgumentException("MultiheadAttention(embed_dim=" + embedDim + ", num_heads=" + numHeads
            + "): kdim and vdim must be positive, got kdim=" + kdim + ", vdim=" + vdim);
      }
      if (embedDim <= 0 || numHeads <= 0) {
        throw new IllegalArgumentException("MultiheadAttention(embed_dim=" + embedDim + ", num_heads=" + numHeads
            + "): embed_dim and num_heads must be positive");
      }
      if (embedDim % numHeads != 0) {
        throw new IllegalArgumentException("MultiheadAttention(embed_dim=" + embedDim + ", num_heads=" + numHeads
            + "): embed_dim must be divisible by num_heads");
      }
      if (!(dropout >= 0 && dropout <= 1)) {
        throw new IllegalArgumentException("MultiheadAttention: dropout has to be between 0 and 1, but got " + dropout);
      }
    }

    /** {@code embedDim / numHeads}, each head's width. */
    public int headDim() {
      return embedDim / numHeads;
    }

    /** Whether keys and values have width {@code embedDim}, so one packed {@code in_proj_weight} (PyTorch's {@code _qkv_same_embed_dim}). */
    public boolean sameEmbedDim() {
      return kdim == embedDim && vdim == embedDim;
    }

    /** The key columns the layer appends to the scores ({@code bias_k}, the zero key). */
    int extraKeys() {
      return (addBiasKv ? 1 : 0) + (addZeroAttn ? 1 : 0);
    }

    @Override
    public int[] outputShape(int[] in) {
      return sequenceShape(this, embedDim, batchFirst, in);
    }

    @Override
    public String toString() {
      return "MultiheadAttention(embed_dim=" + embedDim + ", num_heads=" + numHeads
          + (dropout != 0 ? ", dropout=" + pythonRepr(dropout) : "") + (bias ? "" : ", bias=False")
          + (addBiasKv ? ", add_bias_kv=True" : "") + (addZeroAttn ? ", add_zero_attn=True" : "")
          + (kdim != embedDim ? ", kdim=" + kdim : "") + (vdim != embedDim ? ", vdim=" + vdim : "")
          + (batchFirst ? ", batch_first=True" : "") + ")";
    }
  }

  /** {@code in} unchanged when it is a sequence of width {@code e} ({@code [L, N, e]}, {@code [N, L, e]} or {@code [L, e]}), else a message naming {@code layer}. */
  static int[] sequenceShape(LayerSpec layer, int e, boolean batchFirst, int[] in) {
    if (in.length < 2 || in.length > 3 || in[in.length - 1] != e) {
      throw new ShapeException(layer + " expects " + (batchFirst ? "[N, L, " : "[L, N, ") + e + "] (or [L, " + e
          + "] unbatched), receives " + Shapes.toString(in));
    }
    return in.clone();
  }

  /** The attention's output and, when asked for, its weights ({@code [N, L, S]} averaged over heads, or {@code [N, H, L, S]}). */
  public record Output(Tensor output, Tensor weights) {}

  private final transient Tensor inProjWeight;
  private final transient Tensor qProjWeight;
  private final transient Tensor kProjWeight;
  private final transient Tensor vProjWeight;
  private final transient Tensor inProjBias;
  private final transient Tensor biasK;
  private final transient Tensor biasV;
  private final transient Linear outProj;

  /** {@code nn.MultiheadAttention(embedDim, numHeads)}: no dropout, biases, sequence first. */
  public MultiheadAttention(int embedDim, int numHeads) {
    this(embedDim, numHeads, 0, true, false);
  }

  public MultiheadAttention(int embedDim, int numHeads, double dropout, boolean bias, boolean batchFirst) {
    this(new Spec(embedDim, numHeads, dropout, bias, batchFirst));
  }

  /**
   * PyTorch's full {@code nn.MultiheadAttention(embed_dim, num_heads, dropout, bias, add_bias_kv, add_zero_attn, kdim,
   * vdim, batch_first)}, in its order.
   */
  public MultiheadAttention(int embedDim, int numHeads, double dropout, boolean bias, boolean addBiasKv,
      boolean addZeroAttn, int kdim, int vdim, boolean batchFirst) {
    this(new Spec(embedDim, numHeads, dropout, bias, batchFirst, kdim, vdim, addBiasKv, addZeroAttn));
  }

  /** A layer of these hyper-parameters, freshly initialised as PyTorch's {@code _reset_parameters}. */
  public MultiheadAttention(Spec spec) {
    super(spec);
    int embedDim = spec.embedDim();
    if (spec.sameEmbedDim()) {
      inProjWeight = registerParameter("in_proj_weight", Tensor.zeros(3 * embedDim, embedDim).requiresGrad(true));
      qProjWeight = kProjWeight = vProjWeight = null;
      Init.xavierUniform(inProjWeight);
    } else {
      inProjWeight = null;
      qProjWeight = registerParameter("q_proj_weight", Tensor.zeros(embedDim, embedDim).requiresGrad(true));
      kProjWeight = registerParameter("k_proj_weight", Tensor.zeros(embedDim, spec.kdim()).requiresGrad(true));
      vProjWeight = registerParameter("v_proj_weight", Tensor.zeros(embedDim, spec.vdim()).requiresGrad(true));
      Init.xavierUniform(qProjWeight);
      Init.xavierUniform(kProjWeight);
      Init.xavierUniform(vProjWeight);
    }
    inProjBias = spec.bias() ? registerParameter("in_proj_bias", Tensor.zeros(3 * embedDim).requiresGrad(true)) : null;
    if (spec.addBiasKv()) {
      biasK = Init.xavierNormal(registerParameter("bias_k", Tensor.zeros(1, 1, embedDim).requiresGrad(true)));
      biasV = Init.xavierNormal(registerParameter("bias_v", Tensor.zeros(1, 1, embedDim).requiresGrad(true)));
    } else {
      biasK = biasV = null;
    }
    outProj = registerModule("out_proj", new Linear(embedDim, embedDim, spec.bias()));
    if (spec.bias()) {
      Init.zeros(outProj.bias());
    }
  }

  /** {@code in_proj_weight [3E, E]}: the query's, key's and value's projections stacked; null with kdim/vdim other than E. */
  public Tensor inProjWeight() {
    return inProjWeight;
  }

  /** {@code q_proj_weight [E, E]}, only with kdim/vdim other than E (else null: see {@link #inProjWeight()}). */
  public Tensor qProjWeight() {
    return qProjWeight;
  }

  /** {@code k_proj_weight [E, kdim]}, only with kdim/vdim other than E. */
  public Tensor kProjWeight() {
    return kProjWeight;
  }

  /** {@code v_proj_weight [E, vdim]}, only with kdim/vdim other than E. */
  public Tensor vProjWeight() {
    return vProjWeight;
  }

  /** {@code bias_k [1, 1, E]} appended to the keys, or null without {@code addBiasKv}. */
  public Tensor biasK() {
    return biasK;
  }

  /** {@code bias_v [1, 1, E]} appended to the values, or null without {@code addBiasKv}. */
  public Tensor biasV() {
    return biasV;
  }

  /** {@code in_proj_bias [3E]}, or null without bias. */
  public Tensor inProjBias() {
    return inProjBias;
  }

  /** {@code out_proj}, the Linear(E, E) after the heads are joined. */
  public Linear outProj() {
    return outProj;
  }

  /** Self-attention's output: {@code forward(x, x, x, null, false, null).output()}. */
  @Override
  public Tensor forward(Tensor x) {
    return forward(x, x, x, null, false, null).output();
  }

  /** {@code mha(query, key, value)}: the output and the weights averaged over heads, no masks. */
  public Output forward(Tensor query, Tensor key, Tensor value) {
    return forward(query, key, value, null, true, null);
  }

  /** {@code mha(query, key, value, key_padding_mask, need_weights, attn_mask)}, weights averaged over heads. */
  public Output forward(Tensor query, Tensor key, Tensor value, Tensor keyPaddingMask, boolean needWeights,
      Tensor attnMask) {
    return forward(query, key, value, keyPaddingMask, needWeights, attnMask, true);
  }

  /**
   * PyTorch 1.13's {@code forward(query, key, value, key_padding_mask, need_weights, attn_mask, average_attn_weights)}.
   *
   * @param keyPaddingMask float {@code [N, S]} (or {@code [S]} unbatched) added to every query's scores, or null
   * @param attnMask float {@code [L, S]} or {@code [N * numHeads, L, S]} added to the scores, or null
   * @return the output, shaped as the query, and the weights ({@code [N, L, S]} averaged, or {@code [N, numHeads, L, S]};
   *     without the batch when unbatched), or null weights without {@code needWeights}; the weights are those after
   *     dropout, as PyTorch 1.13 returns them
   * @throws ShapeException naming this layer when the inputs or masks have the wrong shapes
   */
  public Output forward(Tensor query, Tensor key, Tensor value, Tensor keyPaddingMask, boolean needWeights,
      Tensor attnMask, boolean averageAttnWeights) {
    Spec s = spec();
    int e = s.embedDim();
    int[] qs = query.shape();
    int[] ks = key.shape();
    int[] vs = value.shape();
    outputShape(qs);
    boolean batched = qs.length == 3;
    if (!keyAndValueFit(ks, vs, qs.length)) {
      throw new ShapeException(this + ": key and value must have the query's rank, the same shape and "
          + (s.sameEmbedDim() ? "E = " + e + " last" : "kdim = " + s.kdim() + ", vdim = " + s.vdim() + " last")
          + ", got query " + Shapes.toString(qs) + ", key " + Shapes.toString(ks) + ", value " + Shapes.toString(vs));
    }
    int batchDim = s.batchFirst() ? 0 : 1;
    int seqDim = 1 - batchDim;
    int n = batched ? qs[batchDim] : 1;
    int l = batched ? qs[seqDim] : qs[0];
    int srcLen = batched ? ks[seqDim] : ks[0];
    if (batched && ks[batchDim] != n) {
      throw new ShapeException(this + ": key's batch (" + ks[batchDim] + ") differs from the query's (" + n
          + "), got query " + Shapes.toString(qs) + ", key " + Shapes.toString(ks));
    }
    Tensor mask = scoresMask(attnMask, keyPaddingMask, batched, n, l, srcLen);
    if (!batched) { // as a batch of one, sequence first
      query = query.unsqueeze(1);
      key = key.unsqueeze(1);
      value = value.unsqueeze(1);
    }
    boolean batchFirst = batched && s.batchFirst();
    Tensor q = heads(query, 0, batchFirst);
    Tensor k = heads(key, 1, batchFirst);
    Tensor v = heads(value, 2, batchFirst);
    if (s.addBiasKv()) { // PyTorch's cat of bias_k/bias_v along the sequence, as a key of every sample's heads
      k = Ops.cat(List.of(k, headsOfBias(biasK, n)), 2);
      v = Ops.cat(List.of(v, headsOfBias(biasV, n)), 2);
    }
    if (s.addZeroAttn()) {
      Tensor zeros = Tensor.zeros(k.device(), n, s.numHeads(), 1, s.headDim());
      k = Ops.cat(List.of(k, zeros), 2);
      v = Ops.cat(List.of(v, zeros), 2);
    }
    if (mask != null && s.extraKeys() > 0) {
      mask = F.pad(mask, new int[] {0, s.extraKeys()});
    }
    Attention.Result r = Attention.compute(toString(), q, k, v, mask, isTraining() ? s.dropout() : 0, false);
    // [N, H, L, Dh] to the query's layout, the heads side by side
    Tensor joined = r.output().permute(batchFirst ? new int[] {0, 2, 1, 3} : new int[] {2, 0, 1, 3})
        .reshape(batchFirst ? new int[] {n, l, e} : new int[] {l, n, e});
    Tensor out = outProj.apply(joined);
    if (!batched) {
      out = out.squeeze(1);
    }
    Tensor weights = null;
    if (needWeights) {
      weights = averageAttnWeights ? r.weights().mean(1) : r.weights();
      if (!batched) {
        weights = weights.squeeze(0);
      }
    }
    return new Output(out, weights);
  }

  /** Whether key {@code ks} and value {@code vs} fit a query of rank {@code rank}: same leading sizes, kdim and vdim last. */
  private boolean keyAndValueFit(int[] ks, int[] vs, int rank) {
    Spec s = spec();
    return ks.length == rank && vs.length == rank && ks[rank - 1] == s.kdim() && vs[rank - 1] == s.vdim()
        && Arrays.equals(ks, 0, rank - 1, vs, 0, rank - 1);
  }

  /** {@code bias_k} or {@code bias_v [1, 1, E]} as one more key of each sample's heads, {@code [N, H, 1, Dh]}. */
  private Tensor headsOfBias(Tensor bias, int n) {
    Spec s = spec();
    return bias.view(1, s.numHeads(), 1, s.headDim()).expand(n, s.numHeads(), 1, s.headDim());
  }

  /** Block {@code i} (0 query, 1 key, 2 value) of the in-projection of {@code x}, as heads {@code [N, H, len, Dh]}. */
  private Tensor heads(Tensor x, int i, boolean batchFirst) {
    Spec s = spec();
    int e = s.embedDim();
    int[] shape = x.shape(); // [N, len, E] or [len, N, E] (kdim, vdim for keys and values)
    Tensor w = inProjWeight != null ? inProjWeight.narrow(0, i * e, e)
        : i == 0 ? qProjWeight : i == 1 ? kProjWeight : vProjWeight;
    Tensor b = inProjBias == null ? null : inProjBias.narrow(0, i * e, e);
    Tensor p = Ops.linear(x.reshape(-1, shape[2]), w, b).view(shape[0], shape[1], s.numHeads(), s.headDim());
    return batchFirst ? p.transpose(1, 2) : p.permute(1, 2, 0, 3);
  }

  /** The float mask added to the scores {@code [N, H, L, S]}: the attention mask and the padding mask together. */
  private Tensor scoresMask(Tensor attnMask, Tensor keyPaddingMask, boolean batched, int n, int l, int srcLen) {
    int h = spec().numHeads();
    Tensor mask = null;
    if (attnMask != null) {
      int[] ms = attnMask.shape();
      if (ms.length == 2 && ms[0] == l && ms[1] == srcLen) {
        mask = attnMask;
      } else if (ms.length == 3 && ms[0] == n * h && ms[1] == l && ms[2] == srcLen) {
        mask = batched ? attnMask.view(n, h, l, srcLen) : attnMask.view(1, h, l, srcLen);
      } else {
        throw new ShapeException(this + ": attn_mask must be [L, S] = " + Shapes.toString(l, srcLen) + " or [N * num_heads, L, S] = "
            + Shapes.toString(n * h, l, srcLen) + ", got " + Shapes.toString(ms));
      }
    }
    if (keyPaddingMask != null) {
      int[] ps = keyPaddingMask.shape();
      int[] want = batched ? new int[] {n, srcLen} : new int[] {srcLen};
      if (!Arrays.equals(ps, want)) {
        throw new ShapeException(this + ": key_padding_mask must be " + (batched ? "[N, S] = " : "[S] = ")
            + Shapes.toString(want) + ", got " + Shapes.toString(ps));
      }
      Tensor padding = keyPaddingMask.view(n, 1, 1, srcLen);
      mask = mask == null ? padding : mask.add(padding);
    }
    return mask;
  }
}
