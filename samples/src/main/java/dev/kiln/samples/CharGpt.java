package dev.kiln.samples;

import static dev.kiln.dsl.F.gelu;

import dev.kiln.dsl.Embedding;
import dev.kiln.dsl.Init;
import dev.kiln.dsl.LayerNorm;
import dev.kiln.dsl.Linear;
import dev.kiln.dsl.Model;
import dev.kiln.dsl.Module;
import dev.kiln.runtime.Tensor;
import java.util.Map;

/**
 * nanoGPT's character-level GPT (Karpathy's {@code model.py}, the {@code shakespeare_char} setup), scaled down:
 * a token table and a learned position table, {@value #LAYERS} pre-norm transformer blocks as nanoGPT writes them
 * (one fused {@code c_attn} projection cut into queries, keys and values by {@code split(D, 2)}, {@value #HEADS}
 * heads by {@code view}/{@code transpose}, a causal mask buffer filled with {@code -inf}, a GELU MLP of width
 * {@code 4 * D}), a final LayerNorm and {@code lm_head} over every position: ids {@code [N, S]} to logits
 * {@code [N, S, V]}. The sizes are compile-time constants, as a compiled model's are. Initialised as nanoGPT's
 * {@code _init_weights}: weights normal (0, 0.02), biases zero, the residual projections' weights with std
 * {@code 0.02 / sqrt(2 * LAYERS)}. Differences from nanoGPT: no dropout, and {@code lm_head} is not tied to the
 * token table. The annotation processor compiles it into {@code KilnCharGpt}; {@code char-gpt --eager} runs this
 * declaration as written.
 */
@Model(input = {CharGpt.S})
public class CharGpt extends Module {
  /** The context: characters per window ({@code block_size}). */
  static final int S = 32;
  /** The vocabulary's capacity: a text's characters, the most frequent 95 of them where it has more, and one unknown id. */
  static final int V = 96;
  static final int D = 64;
  static final int HEADS = 4;
  static final int DH = D / HEADS;
  static final int LAYERS = 2;

  final Embedding wte = new Embedding(V, D);
  final Tensor wpe = registerParameter("wpe", Tensor.zeros(1, S, D).requiresGrad(true));
  final Tensor bias = registerBuffer("bias", Tensor.ones(S, S).tril().view(1, 1, S, S));   // nanoGPT's causal mask

  final LayerNorm ln1a = new LayerNorm(D);     // block 0
  final Linear cAttnA = new Linear(D, 3 * D);
  final Linear cProjA = new Linear(D, D);
  final LayerNorm ln2a = new LayerNorm(D);
  final Linear cFcA = new Linear(D, 4 * D);
  final Linear mlpProjA = new Linear(4 * D, D);

  final LayerNorm ln1b = new LayerNorm(D);     // block 1
  final Linear cAttnB = new Linear(D, 3 * D);
  final Linear cProjB = new Linear(D, D);
  final LayerNorm ln2b = new LayerNorm(D);
  final Linear cFcB = new Linear(D, 4 * D);
  final Linear mlpProjB = new Linear(4 * D, D);

  final LayerNorm lnF = new LayerNorm(D);
  final Linear lmHead = new Linear(D, V, false);

  public CharGpt() {
    initWeights(namedParameters());
  }

  /** nanoGPT's {@code _init_weights} and its scaled residual projections, from Kiln's seeded generator. */
  private static void initWeights(Map<String, Tensor> params) {
    params.forEach((name, p) -> {
      if (name.startsWith("ln")) {
        return;                                               // LayerNorm: ones and zeros, as PyTorch's
      }
      if (name.endsWith(".bias")) {
        Init.zeros(p);
      } else if (name.startsWith("cProj") || name.startsWith("mlpProj")) {
        Init.normal(p, 0, 0.02 / Math.sqrt(2 * LAYERS));
      } else {
        Init.normal(p, 0, 0.02);
      }
    });
  }

  @Override
  public Tensor forward(Tensor ids) {
    Tensor x = wte.apply(ids).add(wpe);                                     // [N, S] -> [N, S, D]

    Tensor[] qkv = cAttnA.apply(ln1a.apply(x)).split(D, 2);                // q, k, v = self.c_attn(x).split(D, dim=2)
    Tensor q = qkv[0].view(-1, S, HEADS, DH).transpose(1, 2);              // [N, H, S, DH]
    Tensor k = qkv[1].view(-1, S, HEADS, DH).transpose(1, 2);
    Tensor v = qkv[2].view(-1, S, HEADS, DH).transpose(1, 2);
    Tensor att = q.matmul(k.transpose(-2, -1)).div(Math.sqrt(DH));
    att = att.maskedFill(bias.eq(0), Float.NEGATIVE_INFINITY).softmax(-1);
    x = x.add(cProjA.apply(att.matmul(v).transpose(1, 2).reshape(-1, S, D)));
    x = x.add(mlpProjA.apply(gelu(cFcA.apply(ln2a.apply(x)))));

    Tensor[] qkv2 = cAttnB.apply(ln1b.apply(x)).split(D, 2);
    Tensor q2 = qkv2[0].view(-1, S, HEADS, DH).transpose(1, 2);
    Tensor k2 = qkv2[1].view(-1, S, HEADS, DH).transpose(1, 2);
    Tensor v2 = qkv2[2].view(-1, S, HEADS, DH).transpose(1, 2);
    Tensor att2 = q2.matmul(k2.transpose(-2, -1)).div(Math.sqrt(DH));
    att2 = att2.maskedFill(bias.eq(0), Float.NEGATIVE_INFINITY).softmax(-1);
    x = x.add(cProjB.apply(att2.matmul(v2).transpose(1, 2).reshape(-1, S, D)));
    x = x.add(mlpProjB.apply(gelu(cFcB.apply(ln2b.apply(x)))));

    return lmHead.apply(lnF.apply(x));                                      // [N, S, V]
  }
}
