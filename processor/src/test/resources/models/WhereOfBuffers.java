package test;

import dev.kiln.dsl.Linear;
import dev.kiln.dsl.Model;
import dev.kiln.dsl.Module;
import dev.kiln.runtime.Tensor;

/**
 * Wheres of buffers alone, without a batch as in eager mode: a shift picked from two tables by a buffer mask ({@code [6,
 * 8]}, b broadcasting {@code [8]}), one whose mask is a slice of a causal buffer and whose result is viewed, one whose
 * mask is a buffer compared; each computed as eager mode computes it, again when a buffer changes.
 */
@Model(input = {6, 8})
public class WhereOfBuffers extends Module {
  final Tensor keep = registerBuffer("keep", Tensor.ones(6, 8).tril());
  final Tensor near = registerBuffer("near", Tensor.randn(6, 8));
  final Tensor far = registerBuffer("far", Tensor.randn(8));
  final Tensor bias = registerBuffer("bias", Tensor.ones(1, 1, 10, 10).tril());
  final Linear fc = new Linear(8, 8);
  final Linear head = new Linear(48, 3);

  @Override
  public Tensor forward(Tensor x) {
    Tensor shift = Tensor.where(keep, near, far);                                  // [6, 8], no batch
    Tensor h = fc.apply(x).add(shift);
    Tensor gate = Tensor.where(bias.narrow(2, 0, 6).narrow(3, 0, 8).view(6, 8), far, near).view(1, 6, 8);
    h = h.mul(gate).sub(Tensor.where(keep.eq(0), near, far));
    return head.apply(h.flatten(1, 2));
  }
}
