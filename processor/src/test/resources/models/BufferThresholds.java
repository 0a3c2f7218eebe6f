package test;

import static dev.kiln.dsl.F.flatten;

import dev.kiln.dsl.Linear;
import dev.kiln.dsl.Model;
import dev.kiln.dsl.Module;
import dev.kiln.runtime.Tensor;

/**
 * Values compared with buffers: a per-position threshold {@code [S, D]} masking a value in a masked fill ({@code
 * h.lt(threshold)}), a per-feature floor {@code [D]} compared from the left ({@code floor.lt(h)}, 0/1 values multiplied
 * in), and a where on a comparison with a sliced buffer.
 */
@Model(input = {6, 8})
public class BufferThresholds extends Module {
  final Tensor threshold = registerBuffer("threshold", Tensor.randn(6, 8).mul(0.5));
  final Tensor floor = registerBuffer("floor", Tensor.randn(8).mul(0.1));
  final Tensor limits = registerBuffer("limits", Tensor.randn(10, 8));
  final Linear fc = new Linear(8, 8);
  final Linear head = new Linear(48, 3);

  @Override
  public Tensor forward(Tensor x) {
    Tensor h = fc.apply(x);
    h = h.maskedFill(h.lt(threshold), 0f);
    h = h.mul(floor.lt(h));
    h = Tensor.where(h.gt(limits.narrow(0, 0, 6)), h, h.mul(0.5));
    return head.apply(flatten(h));
  }
}
