package test;

import dev.kiln.dsl.Linear;
import dev.kiln.dsl.Model;
import dev.kiln.dsl.Module;
import dev.kiln.runtime.Tensor;

/**
 * The Tensor methods of two values a compiled forward takes beside maximum and minimum: atan2 of one shape and broadcast
 * ({@code [N, 8]} with {@code [N, 1]}), and lerp by a constant weight below 0.5 and above (PyTorch's two formulas), to an
 * end that broadcasts; the logical ops of masks and values (a mask local, its not, read by a masked fill, a where and a
 * product), 0/1 values without gradient; products along a dimension, kept and not, over lines with no zero, one zero and
 * two (PyTorch's gradient rule).
 */
@Model(input = {6})
public class MathPairs extends Module {
  final Linear a = new Linear(6, 8);
  final Linear b = new Linear(6, 8);
  final Linear c = new Linear(8, 8);
  final Linear d = new Linear(8, 8);
  final Linear e = new Linear(8, 8);
  final Linear f = new Linear(8, 8);
  final Linear g = new Linear(8, 8);
  final Linear head = new Linear(8, 3);

  @Override
  public Tensor forward(Tensor x) {
    Tensor p = a.apply(x);
    Tensor q = b.apply(x);
    Tensor h = p.atan2(q).add(q.atan2(p.mean(1, true)));
    p = c.apply(h);
    q = d.apply(h);
    h = p.lerp(q, 0.25f).add(q.lerp(p, 0.75f)).add(p.lerp(q.sum(1, true), -0.5f));
    p = e.apply(h);
    q = f.apply(h);
    Tensor both = p.gt(0).logicalAnd(q.gt(0));
    h = p.maskedFill(both.logicalNot(), 0f).add(Tensor.where(p.gt(q).logicalOr(q.lt(-0.5f)), p, q))
        .add(q.mul(p.logicalXor(q.gt(0.1f))));
    p = g.apply(h);
    h = h.add(p.narrow(1, 0, 2).relu().prod(1, true)).add(p.mul(0.5f).prod(1).reshape(-1, 1));
    return head.apply(h);
  }
}
