package test;

import static dev.kiln.dsl.F.flatten;
import static dev.kiln.dsl.F.gelu;

import dev.kiln.dsl.LayerNorm;
import dev.kiln.dsl.Linear;
import dev.kiln.dsl.Model;
import dev.kiln.dsl.Module;
import dev.kiln.runtime.Tensor;

/**
 * forward calling the model's own methods, which the compiler inlines: attention of a constant head count (an int
 * parameter), a residual of two tensors, and an MLP block whose forward calls a private method of its own.
 */
@Model(input = {6, 8})
public class OwnMethods extends Module {
  static final int S = 6;
  static final int D = 8;

  static class Mlp extends Module {
    final Linear up = new Linear(D, 2 * D);
    final Linear down = new Linear(2 * D, D);

    private Tensor widen(Tensor x) {
      return gelu(up.apply(x));
    }

    @Override
    public Tensor forward(Tensor x) {
      return down.apply(widen(x));
    }
  }

  final LayerNorm ln = new LayerNorm(D);
  final Linear query = new Linear(D, D);
  final Linear key = new Linear(D, D);
  final Linear value = new Linear(D, D);
  final Mlp mlp = new Mlp();
  final Linear head = new Linear(S * D, 3);

  private Tensor attention(Tensor x, int heads) {
    Tensor q = query.apply(x).view(-1, S, heads, D / heads).transpose(1, 2);
    Tensor k = key.apply(x).view(-1, S, heads, D / heads).transpose(1, 2);
    Tensor v = value.apply(x).view(-1, S, heads, D / heads).transpose(1, 2);
    Tensor att = q.matmul(k.transpose(-2, -1)).div(Math.sqrt(D / heads)).softmax(-1);
    return att.matmul(v).transpose(1, 2).reshape(-1, S, D);
  }

  Tensor residual(Tensor x, Tensor y) {
    return x.add(y);
  }

  @Override
  public Tensor forward(Tensor x) {
    x = residual(x, attention(ln.apply(x), 2));
    x = this.residual(x, mlp.apply(x));
    return head.apply(flatten(x));
  }
}
