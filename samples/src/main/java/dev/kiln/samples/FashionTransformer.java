package dev.kiln.samples;

import static dev.kiln.dsl.F.flatten;
import static dev.kiln.dsl.F.gelu;

import dev.kiln.dsl.Init;
import dev.kiln.dsl.LayerNorm;
import dev.kiln.dsl.Linear;
import dev.kiln.dsl.Model;
import dev.kiln.dsl.Module;
import dev.kiln.runtime.Tensor;

/**
 * A small transformer over FashionMNIST's rows: each image is 28 tokens of 28 pixels, embedded by
 * one Linear to 64 values, then one pre-norm block (multi-head self-attention with 4 heads of 16,
 * and a GELU MLP of width 128, each with a residual connection), a final LayerNorm, and a Linear
 * from all 28 tokens to the 10 classes. Written as a PyTorch user writes it (Tensor methods,
 * {@code view}, {@code transpose(1, 2)}, {@code q @ k.transpose(-2, -1) / sqrt(d)}); the annotation
 * processor compiles it into {@code KilnFashionTransformer}: the scores' transpose and scale go into
 * one batched GEMM, the heads' split and join are copies. A learned position table is added to the
 * tokens as ViT adds it ({@code x + self.pos_embedding}, initialised normal with std 0.02), so that
 * attention, which sees the tokens as a set, knows which row each is.
 */
@Model(input = {1, 28, 28})
public class FashionTransformer extends Module {
  static final int TOKENS = 28;
  static final int D = 64;
  static final int HEADS = 4;
  static final int DH = D / HEADS;

  final Linear embed = new Linear(28, D);
  final Tensor pos = registerParameter("pos", Tensor.zeros(1, TOKENS, D).requiresGrad(true));   // [1, 28, 64]
  final LayerNorm norm1 = new LayerNorm(D);
  final Linear query = new Linear(D, D);
  final Linear key = new Linear(D, D, false); // a key bias would shift each row of scores alike: softmax ignores it
  final Linear value = new Linear(D, D);
  final Linear proj = new Linear(D, D);
  final LayerNorm norm2 = new LayerNorm(D);
  final Linear up = new Linear(D, 2 * D);
  final Linear down = new Linear(2 * D, D);
  final LayerNorm norm = new LayerNorm(D);
  final Linear head = new Linear(TOKENS * D, 10);

  public FashionTransformer() {
    Init.normal(pos, 0, 0.02); // ViT's initialisation, from Kiln's seeded generator
  }

  @Override
  public Tensor forward(Tensor x) {
    x = embed.apply(x.view(-1, TOKENS, 28)).add(pos);                         // [N, 28, 64], each row at its place

    Tensor h = norm1.apply(x);                                               // attention, 4 heads
    Tensor q = query.apply(h).view(-1, TOKENS, HEADS, DH).transpose(1, 2);   // [N, 4, 28, 16]
    Tensor k = key.apply(h).view(-1, TOKENS, HEADS, DH).transpose(1, 2);
    Tensor v = value.apply(h).view(-1, TOKENS, HEADS, DH).transpose(1, 2);
    Tensor att = q.matmul(k.transpose(-2, -1)).div(Math.sqrt(DH)).softmax(-1);   // [N, 4, 28, 28]
    h = att.matmul(v).transpose(1, 2).reshape(-1, TOKENS, D);                // the heads side by side again
    x = x.add(proj.apply(h));

    x = x.add(down.apply(gelu(up.apply(norm2.apply(x)))));                  // MLP

    return head.apply(flatten(norm.apply(x)));
  }
}
