package test;

import static dev.kiln.dsl.F.flatten;
import static dev.kiln.dsl.F.gelu;

import dev.kiln.dsl.Init;
import dev.kiln.dsl.LayerNorm;
import dev.kiln.dsl.Linear;
import dev.kiln.dsl.Model;
import dev.kiln.dsl.Module;
import dev.kiln.dsl.ModuleList;
import dev.kiln.runtime.Tensor;

/**
 * nanoGPT's layout: blocks written as Module subclasses (a Block holding causal self-attention and an MLP, each a
 * block of its own), two of them in a ModuleList applied in a loop. The compiled class inlines each block's forward;
 * its state-dict keys are eager mode's ({@code h.0.attn.query.weight}, {@code h.1.attn.mask}).
 */
@Model(input = {6, 8})
public class Blocks extends Module {
  static final int S = 6;
  static final int D = 8;
  static final int H = 2;

  /** Multi-head causal self-attention: its head count a constructor argument, kept in a field its forward reads. */
  static class Attention extends Module {
    final int heads;
    final Tensor mask = registerBuffer("mask", Tensor.ones(S, S).tril().view(1, 1, S, S));
    final Linear query = new Linear(D, D);
    final Linear key = new Linear(D, D, false);
    final Linear value = new Linear(D, D);
    final Linear proj;

    Attention(int heads) {
      this.heads = heads;
      proj = new Linear(D, D);
    }

    @Override
    public Tensor forward(Tensor x) {
      Tensor q = query.apply(x).view(-1, S, heads, D / heads).transpose(1, 2);
      Tensor k = key.apply(x).view(-1, S, heads, D / heads).transpose(1, 2);
      Tensor v = value.apply(x).view(-1, S, heads, D / heads).transpose(1, 2);
      Tensor att = q.matmul(k.transpose(-2, -1)).div(Math.sqrt(D / heads));
      att = att.maskedFill(mask.eq(0), Float.NEGATIVE_INFINITY).softmax(-1);
      return proj.apply(att.matmul(v).transpose(1, 2).reshape(-1, S, D));
    }
  }

  /** A transformer block: pre-norm attention and MLP, each added to the residual stream. */
  static class Block extends Module {
    final LayerNorm ln1 = new LayerNorm(D);
    final Attention attn = new Attention(H);
    final LayerNorm ln2 = new LayerNorm(D);
    final FeedForward mlp = new FeedForward(D, 4);

    @Override
    public Tensor forward(Tensor x) {
      x = x.add(attn.apply(ln1.apply(x)));
      x = x.add(mlp.apply(ln2.apply(x)));
      return x;
    }
  }

  final Tensor pos = registerParameter("pos", Tensor.zeros(1, S, D).requiresGrad(true));
  final ModuleList<Block> h = ModuleList.of(new Block(), new Block());
  final LayerNorm lnF = new LayerNorm(D);
  final Linear head = new Linear(S * D, 3);

  public Blocks() {
    Init.normal(pos, 0, 0.02);
  }

  @Override
  public Tensor forward(Tensor x) {
    x = x.add(pos);
    for (Block b : h) {
      x = b.apply(x);
    }
    return head.apply(flatten(lnF.apply(x)));
  }
}

/** The MLP, a top-level class of its own: its sizes constructor arguments its layers' initializers use. */
class FeedForward extends Module {
  final Linear up;
  final Linear down;

  FeedForward(int d, int widening) {
    up = new Linear(d, widening * d);
    down = new Linear(widening * d, d);
  }

  @Override
  public Tensor forward(Tensor x) {
    return down.apply(gelu(up.apply(x)));
  }
}
