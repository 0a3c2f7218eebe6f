package test;

import static dev.kiln.dsl.F.scaledDotProductAttention;

import dev.kiln.dsl.Dropout;
import dev.kiln.dsl.Embedding;
import dev.kiln.dsl.GELU;
import dev.kiln.dsl.LayerNorm;
import dev.kiln.dsl.Linear;
import dev.kiln.dsl.Model;
import dev.kiln.dsl.Module;
import dev.kiln.dsl.ModuleList;
import dev.kiln.runtime.Tensor;
import java.util.stream.IntStream;

/**
 * karpathy/nanoGPT's {@code model.py} in the parts the char-gpt sample leaves out: dropout 0.1 everywhere nanoGPT has it
 * ({@code transformer.drop} after the embeddings, {@code attn_dropout} on the weights, {@code resid_dropout} after
 * {@code c_proj}, the MLP's {@code dropout}), {@code bias=False} Linears (its GPTConfig's "a bit better and faster"), the
 * mask buffer sliced as nanoGPT slices it ({@code self.bias[:, :, :T, :T]}, {@code slice}), and both attention paths:
 * the manual one in block 0 and the flash one in block 1 ({@code F.scaled_dot_product_attention(q, k, v, attn_mask=None,
 * dropout_p=self.dropout if self.training else 0, is_causal=True)}), chosen by a constructor flag as nanoGPT's {@code
 * self.flash}. wte tied to lm_head. Sizes: vocabulary 16, block 8, 4 heads of 8, 2 layers.
 */
@Model(input = {ZooGptBlock.BLOCK})
public class ZooGptBlock extends Module {
  static final int VOCAB = 16;
  static final int BLOCK = 8;
  static final int EMBD = 32;
  static final int HEADS = 4;
  static final int LAYERS = 2;
  static final double DROPOUT = 0.1;

  static class CausalSelfAttention extends Module {
    final boolean flash;
    final Linear cAttn = new Linear(EMBD, 3 * EMBD, false);
    final Linear cProj = new Linear(EMBD, EMBD, false);
    final Dropout attnDropout = new Dropout(DROPOUT);
    final Dropout residDropout = new Dropout(DROPOUT);
    final Tensor bias = registerBuffer("bias", Tensor.ones(BLOCK, BLOCK).tril().view(1, 1, BLOCK, BLOCK));

    CausalSelfAttention(boolean flash) {
      this.flash = flash;
    }

    @Override
    public Tensor forward(Tensor x) {
      int B = x.size(0), T = x.size(1), C = x.size(2);
      Tensor[] qkv = cAttn.apply(x).split(EMBD, 2);
      Tensor k = qkv[1].view(B, T, HEADS, C / HEADS).transpose(1, 2);
      Tensor q = qkv[0].view(B, T, HEADS, C / HEADS).transpose(1, 2);
      Tensor v = qkv[2].view(B, T, HEADS, C / HEADS).transpose(1, 2);
      Tensor y;
      if (flash) {
        y = scaledDotProductAttention(q, k, v, null, isTraining() ? DROPOUT : 0, true);
      } else {
        Tensor att = q.matmul(k.transpose(-2, -1)).mul(1.0 / Math.sqrt(k.size(-1)));
        att = att.maskedFill(bias.slice(2, 0, T).slice(3, 0, T).eq(0), Float.NEGATIVE_INFINITY);
        att = att.softmax(-1);
        att = attnDropout.apply(att);
        y = att.matmul(v);
      }
      y = y.transpose(1, 2).contiguous().view(B, T, C);
      return residDropout.apply(cProj.apply(y));
    }
  }

  static class Mlp extends Module {
    final Linear cFc = new Linear(EMBD, 4 * EMBD, false);
    final GELU gelu = new GELU();
    final Linear cProj = new Linear(4 * EMBD, EMBD, false);
    final Dropout dropout = new Dropout(DROPOUT);

    @Override
    public Tensor forward(Tensor x) {
      x = cFc.apply(x);
      x = gelu.apply(x);
      x = cProj.apply(x);
      x = dropout.apply(x);
      return x;
    }
  }

  static class Block extends Module {
    final LayerNorm ln1 = new LayerNorm(EMBD);
    final CausalSelfAttention attn;
    final LayerNorm ln2 = new LayerNorm(EMBD);
    final Mlp mlp = new Mlp();

    Block(boolean flash) {
      attn = new CausalSelfAttention(flash);
    }

    @Override
    public Tensor forward(Tensor x) {
      x = x.add(attn.apply(ln1.apply(x)));
      x = x.add(mlp.apply(ln2.apply(x)));
      return x;
    }
  }

  final Embedding wte = new Embedding(VOCAB, EMBD);
  final Embedding wpe = new Embedding(BLOCK, EMBD);
  final Dropout drop = new Dropout(DROPOUT);
  final ModuleList<Block> h = ModuleList.of(new Block(false), new Block(true));
  final LayerNorm lnF = new LayerNorm(EMBD);
  final Linear lmHead = new Linear(EMBD, VOCAB, false);

  public ZooGptBlock() {
    wte.weight(lmHead.weight());                                  // self.transformer.wte.weight = self.lm_head.weight
  }

  @Override
  public Tensor forward(Tensor idx) {
    int t = idx.size(1);
    Tensor pos = Tensor.labels(IntStream.range(0, t).toArray()).to(idx.device());   // torch.arange(0, t, device=device)
    Tensor x = drop.apply(wte.apply(idx).add(wpe.apply(pos)));
    for (Block block : h) {
      x = block.apply(x);
    }
    x = lnF.apply(x);
    return lmHead.apply(x);                                       // the targets' path: logits at every position
  }
}
