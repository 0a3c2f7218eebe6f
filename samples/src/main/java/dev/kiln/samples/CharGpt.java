package dev.kiln.samples;

import static dev.kiln.dsl.F.gelu;

import dev.kiln.dsl.Embedding;
import dev.kiln.dsl.Init;
import dev.kiln.dsl.LayerNorm;
import dev.kiln.dsl.Linear;
import dev.kiln.dsl.Model;
import dev.kiln.dsl.Module;
import dev.kiln.dsl.ModuleList;
import dev.kiln.runtime.Tensor;
import java.util.Map;
import java.util.stream.Collectors;
import java.util.stream.IntStream;

/**
 * nanoGPT's character-level GPT (Karpathy's {@code model.py}, the {@code shakespeare_char} setup), scaled down:
 * a token table and a learned position table, {@value #LAYERS} pre-norm transformer {@link Block}s in a {@link
 * ModuleList} {@code h} applied in a loop, as nanoGPT writes them (a Block holds {@link CausalSelfAttention}, one fused
 * {@code c_attn} projection cut into queries, keys and values by {@code split(D, 2)}, {@value #HEADS} heads by {@code
 * view}/{@code transpose}, a causal mask buffer filled with {@code -inf}; and an {@link Mlp}, GELU of width {@code 4 *
 * D}), a final LayerNorm and {@code lm_head} over every position: ids {@code [N, S]} to logits
 * {@code [N, S, V]}. The sizes are compile-time constants, as a compiled model's are. Initialised as nanoGPT's
 * {@code _init_weights}: weights normal (0, 0.02), biases zero, the residual projections' weights with std
 * {@code 0.02 / sqrt(2 * LAYERS)}. The token table is {@code lmHead}'s weight, as nanoGPT ties them ({@code
 * self.transformer.wte.weight = self.lm_head.weight}): one {@code [V, D]} tensor, listed once by {@code parameters()}
 * (as {@code wte.weight}) and under both keys in the state dict. State-dict keys are nanoGPT's in Java's spelling ({@code h.0.attn.cAttn.weight}
 * for {@code transformer.h.0.attn.c_attn.weight}); the PyTorch twin {@code samples/peer/pytorch_char_gpt_peer.py}
 * uses the same keys. Differences from nanoGPT: no dropout. The annotation processor compiles it into {@code KilnCharGpt}; {@code char-gpt --eager} runs this
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
  static final int LAYERS = 2;

  /** nanoGPT's {@code CausalSelfAttention}: the fused projection, the heads, the causal mask buffer {@code bias}. */
  static class CausalSelfAttention extends Module {
    final Linear cAttn = new Linear(D, 3 * D);
    final Linear cProj = new Linear(D, D);
    final Tensor bias = registerBuffer("bias", Tensor.ones(S, S).tril().view(1, 1, S, S));   // nanoGPT's causal mask

    @Override
    public Tensor forward(Tensor x) {
      int B = x.size(0), T = x.size(1), C = x.size(2);                    // B, T, C = x.size(): T = S compiled
      Tensor[] qkv = cAttn.apply(x).split(C, 2);                          // q, k, v = self.c_attn(x).split(self.n_embd, dim=2)
      Tensor q = qkv[0].view(B, T, HEADS, C / HEADS).transpose(1, 2);      // (B, nh, T, hs)
      Tensor k = qkv[1].view(B, T, HEADS, C / HEADS).transpose(1, 2);
      Tensor v = qkv[2].view(B, T, HEADS, C / HEADS).transpose(1, 2);
      Tensor att = q.matmul(k.transpose(-2, -1)).div(Math.sqrt(k.size(-1)));
      att = att.maskedFill(bias.narrow(2, 0, T).narrow(3, 0, T).eq(0), Float.NEGATIVE_INFINITY).softmax(-1); // self.bias[:,:,:T,:T] == 0
      return cProj.apply(att.matmul(v).transpose(1, 2).reshape(B, T, C));
    }
  }

  /** nanoGPT's {@code MLP}. */
  static class Mlp extends Module {
    final Linear cFc = new Linear(D, 4 * D);
    final Linear cProj = new Linear(4 * D, D);

    @Override
    public Tensor forward(Tensor x) {
      return cProj.apply(gelu(cFc.apply(x)));
    }
  }

  /** nanoGPT's {@code Block}: {@code x = x + attn(ln_1(x)); x = x + mlp(ln_2(x))}. */
  static class Block extends Module {
    final LayerNorm ln1 = new LayerNorm(D);
    final CausalSelfAttention attn = new CausalSelfAttention();
    final LayerNorm ln2 = new LayerNorm(D);
    final Mlp mlp = new Mlp();

    @Override
    public Tensor forward(Tensor x) {
      x = x.add(attn.apply(ln1.apply(x)));
      return x.add(mlp.apply(ln2.apply(x)));
    }
  }

  final Embedding wte = new Embedding(V, D);
  final Embedding wpe = new Embedding(S, D);
  final ModuleList<Block> h = new ModuleList<>(IntStream.range(0, LAYERS).mapToObj(i -> new Block()).collect(Collectors.toList()));
  final LayerNorm lnF = new LayerNorm(D);
  final Linear lmHead = new Linear(D, V, false);

  public CharGpt() {
    wte.weight(lmHead.weight());                                            // self.transformer.wte.weight = self.lm_head.weight
    initWeights(namedParameters());
  }

  /** nanoGPT's {@code _init_weights} and its scaled residual projections ({@code pn.endswith('c_proj.weight')}), from Kiln's seeded generator. */
  private static void initWeights(Map<String, Tensor> params) {
    params.forEach((name, p) -> {
      if (name.startsWith("ln") || name.contains(".ln")) {
        return;                                               // LayerNorm: ones and zeros, as PyTorch's
      }
      if (name.endsWith(".bias")) {
        Init.zeros(p);
      } else if (name.endsWith("cProj.weight")) {
        Init.normal(p, 0, 0.02 / Math.sqrt(2 * LAYERS));
      } else {
        Init.normal(p, 0, 0.02);
      }
    });
  }

  @Override
  public Tensor forward(Tensor ids) {
    int t = ids.size(1);                                                    // b, t = idx.size()
    Tensor pos = Tensor.labels(IntStream.range(0, t).toArray()).to(ids.device()); // torch.arange(0, t, device=device)
    Tensor x = wte.apply(ids).add(wpe.apply(pos));                          // [N, T, D] + [T, D]
    for (Block block : h) {                                                 // for block in self.transformer.h
      x = block.apply(x);
    }
    return lmHead.apply(lnF.apply(x));                                      // [N, S, V]
  }
}
