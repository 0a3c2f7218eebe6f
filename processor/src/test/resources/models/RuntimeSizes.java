package test;

import static dev.kiln.dsl.F.gelu;

import dev.kiln.dsl.LayerNorm;
import dev.kiln.dsl.Linear;
import dev.kiln.dsl.Model;
import dev.kiln.dsl.Module;
import dev.kiln.runtime.Tensor;

/**
 * Sizes read from values at run time, as PyTorch code reads them: nanoGPT's attention block ({@code B, T, C = x.size()},
 * {@code x.view(B, T, n_head, C // n_head)}, {@code bias[:, :, :T, :T]}, {@code 1 / sqrt(k.size(-1))}), a position table
 * sliced to {@code x.shape()[1]} through an {@code int[]} local, a model's own method reading its argument's sizes, a
 * select and a loop bounded by {@code x.size(1)}. Each folds to the size the processor infers for the value there.
 */
@Model(input = {6, 8})
public class RuntimeSizes extends Module {
  static final int BLOCK = 10;
  static final int D = 8;
  static final int H = 2;

  /** nanoGPT's CausalSelfAttention, its sizes read from its input. */
  static class Attention extends Module {
    final int nHead = H;
    final Tensor bias = registerBuffer("bias", Tensor.ones(BLOCK, BLOCK).tril().view(1, 1, BLOCK, BLOCK));
    final Linear cAttn = new Linear(D, 3 * D);
    final Linear cProj = new Linear(D, D);

    @Override
    public Tensor forward(Tensor x) {
      int B = x.size(0), T = x.size(1), C = x.size(2);                     // B, T, C = x.size()
      Tensor[] qkv = cAttn.apply(x).split(C, 2);
      Tensor q = qkv[0].view(B, T, nHead, C / nHead).transpose(1, 2);       // (B, nh, T, hs)
      Tensor k = qkv[1].view(B, T, nHead, C / nHead).transpose(1, 2);
      Tensor v = qkv[2].view(B, T, nHead, C / nHead).transpose(1, 2);
      Tensor att = q.matmul(k.transpose(-2, -1)).div(Math.sqrt(k.size(-1)));
      att = att.maskedFill(bias.narrow(2, 0, T).narrow(3, 0, T).eq(0), Float.NEGATIVE_INFINITY).softmax(-1);
      Tensor y = att.matmul(v).transpose(1, 2).reshape(B, T, C);
      return cProj.apply(y);
    }
  }

  final Tensor wpe = registerParameter("wpe", Tensor.randn(BLOCK, D).mul(0.02).requiresGrad(true));
  final LayerNorm ln1 = new LayerNorm(D);
  final Attention attn = new Attention();
  final LayerNorm ln2 = new LayerNorm(D);
  final Linear up = new Linear(D, 4 * D);
  final Linear down = new Linear(4 * D, D);
  final Linear head = new Linear(D, 3);

  @Override
  public Tensor forward(Tensor x) {
    int[] s = x.shape();
    x = x.add(wpe.narrow(0, 0, s[1]));                                      // wpe[:T]
    x = x.add(attn.apply(ln1.apply(x)));
    x = x.add(mlp(ln2.apply(x)));
    Tensor last = x.select(1, x.size(1) - 1);                               // x[:, T - 1]
    for (int t = 0; t < x.size(1) - 1; t++) {
      last = last.add(x.select(1, t));
    }
    return head.apply(last.div(x.shape()[1]));                              // the mean over the sequence
  }

  Tensor mlp(Tensor h) {
    Tensor flat = down.apply(gelu(up.apply(h))).reshape(h.size(0), h.size(1) * h.size(-1));
    return flat.view(-1, h.size(1), h.dim() == 3 ? h.size(2) : D);
  }
}
