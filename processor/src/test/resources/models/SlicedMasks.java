package test;

import static dev.kiln.dsl.F.flatten;

import dev.kiln.dsl.F;
import dev.kiln.dsl.LayerNorm;
import dev.kiln.dsl.Linear;
import dev.kiln.dsl.Model;
import dev.kiln.dsl.Module;
import dev.kiln.runtime.Tensor;

/**
 * nanoGPT's causal mask: a buffer of the longest context ({@code BLOCK}) sliced to the model's sequence length {@code T}
 * ({@code self.bias[:, :, :T, :T] == 0}), in the call and in a local, with {@code narrow}, {@code slice} and {@code
 * F.narrow}; and buffers read as 0/1 float values: a sliced mask compared ({@code .eq(0)}) and multiplied, a sliced buffer
 * added, a comparison viewed.
 */
@Model(input = {6, 8})
public class SlicedMasks extends Module {
  static final int BLOCK = 10;
  static final int T = 6;
  static final int D = 8;
  static final int H = 2;
  static final int DH = D / H;

  final Tensor bias = registerBuffer("bias", Tensor.ones(BLOCK, BLOCK).tril().view(1, 1, BLOCK, BLOCK));
  final Tensor table = registerBuffer("table", Tensor.ones(BLOCK, D).mul(0.25));
  final LayerNorm norm = new LayerNorm(D);
  final Linear cAttn = new Linear(D, 3 * D);
  final Linear cProj = new Linear(D, D);
  final Linear head = new Linear(T * D, 3);

  public SlicedMasks() {
    Tensor t = Tensor.randn(BLOCK, D);
    table.copyFrom(t);
  }

  @Override
  public Tensor forward(Tensor x) {
    x = x.add(table.narrow(0, 0, T));                                                  // a sliced buffer as a value: [T, D]
    Tensor[] qkv = cAttn.apply(norm.apply(x)).split(D, 2);
    Tensor q = qkv[0].view(-1, T, H, DH).transpose(1, 2);
    Tensor k = qkv[1].view(-1, T, H, DH).transpose(1, 2);
    Tensor v = qkv[2].view(-1, T, H, DH).transpose(1, 2);
    Tensor att = q.matmul(k.transpose(-2, -1)).div(Math.sqrt(DH));
    att = att.maskedFill(bias.narrow(2, 0, T).narrow(3, 0, T).eq(0), Float.NEGATIVE_INFINITY).softmax(-1);
    Tensor causal = bias.slice(2, 0, T).slice(3, 0, T).eq(0);                           // a local mask of the slice
    Tensor att2 = q.matmul(k.transpose(-2, -1)).maskedFill(causal, -1e9f).softmax(-1);
    Tensor lower = F.narrow(bias, 2, 0, T).narrow(3, 0, T);                            // 0/1 floats: [1, 1, T, T]
    Tensor above = bias.narrow(2, 0, T).narrow(3, 0, T).eq(0);                         // 1 above the diagonal, as a value
    Tensor mixed = att.mul(lower).add(att2.mul(above.view(T, T)));
    Tensor y = mixed.matmul(v).transpose(1, 2).reshape(-1, T, D);
    x = x.add(cProj.apply(y)).sub(table.slice(0, -T, Integer.MAX_VALUE));               // table[-T:]
    return head.apply(flatten(x));
  }
}
