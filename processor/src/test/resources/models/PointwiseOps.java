package test;

import dev.kiln.dsl.Linear;
import dev.kiln.dsl.Model;
import dev.kiln.dsl.Module;
import dev.kiln.runtime.Tensor;

/**
 * The element-wise Tensor methods a compiled forward takes: maximum and minimum of two values of one shape and broadcast
 * ({@code [N, 8]} with {@code [N, 1]}; ties, where the clamp leaves a value as it is, halve the gradient), the table's
 * rsqrt, square, log1p, expm1, reciprocal and the rounding functions (no gradient), and MathKernels' exp, log, sqrt, abs,
 * sin, cos, pow and clamp (float and int bounds,
 * clampMin, clampMax), in four stages (each stage's values read by a few steps).
 */
@Model(input = {6})
public class PointwiseOps extends Module {
  final Linear a = new Linear(6, 8);
  final Linear b = new Linear(6, 8);
  final Linear c = new Linear(8, 8);
  final Linear d = new Linear(8, 8);
  final Linear e = new Linear(8, 8);
  final Linear f = new Linear(8, 8);
  final Linear g = new Linear(8, 8);
  final Linear k = new Linear(8, 8);
  final Linear head = new Linear(8, 3);

  @Override
  public Tensor forward(Tensor x) {
    Tensor p = a.apply(x);
    Tensor q = b.apply(x);
    Tensor h = p.maximum(q).add(p.minimum(q.mean(1, true))).add(p.maximum(p.clamp(-0.2f, 0.2f)));
    p = c.apply(h);
    q = d.apply(h);
    h = p.square().add(1f).rsqrt().add(q.abs().log1p()).add(q.clampMax(1f).expm1()).add(p.square().add(2f).reciprocal());
    p = e.apply(h);
    q = f.apply(h);
    h = p.floor().add(p.ceil()).add(q.round()).add(q.trunc()).add(p.sign()).mul(p);
    p = g.apply(h);
    q = k.apply(h);
    h = q.exp().add(p.square().add(1f).log()).add(q.square().add(1f).sqrt()).add(p.sin()).add(q.cos()).add(p.pow(3))
        .add(q.clamp(-1, 1)).add(p.clampMin(0f)).add(q.abs());
    return head.apply(h.mul(0.1f));
  }
}
