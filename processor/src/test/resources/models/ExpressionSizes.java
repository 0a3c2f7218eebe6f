package test;

import static dev.kiln.dsl.F.relu;

import dev.kiln.dsl.Dropout;
import dev.kiln.dsl.Linear;
import dev.kiln.dsl.Model;
import dev.kiln.dsl.Module;
import dev.kiln.runtime.Tensor;
import java.util.List;

/**
 * Sizes read of expressions, tensor fields and layers' parameters, each a constant as a size of a value held in a local
 * is: {@code fc.apply(x).size(1)}, {@code x.flatten(1).shape()[1]}, {@code x.view(B, -1).size(-1)}, a cat's size, a
 * layer's weight's ({@code up.weight().size(0)}) and a tensor field's ({@code pos.size(0)}, {@code this.table.size(1)}).
 * A layer whose output's size alone is read ({@code probe}) and a buffer whose size alone is read ({@code table}) are
 * no part of the graph: no step, no gradient, as in eager mode, where the value is computed and dropped.
 */
@Model(input = {6, 8})
public class ExpressionSizes extends Module {
  static final int D = 8;

  /** A block reading a size of its own layer's output and weight. */
  static class Mix extends Module {
    final Linear proj = new Linear(D, D);

    @Override
    public Tensor forward(Tensor x) {
      int t = proj.apply(x).size(1);
      return proj.apply(x.narrow(1, 0, t)).mul(1.0 / proj.weight().size(1));
    }
  }

  final Tensor pos = registerParameter("pos", Tensor.randn(10, D).mul(0.02).requiresGrad(true));
  final Tensor table = registerBuffer("table", Tensor.ones(3, 12));
  final Linear up = new Linear(D, 2 * D);
  final Linear probe = new Linear(D, 5);
  final Linear down = new Linear(2 * D, D);
  final Dropout drop = new Dropout(0.1);
  final Mix mix = new Mix();
  final Linear head = new Linear(D, 3);

  @Override
  public Tensor forward(Tensor x) {
    int B = x.size(0);
    int t = x.flatten(1, 2).shape()[1] / D;                                  // 6
    x = x.add(pos.narrow(0, 0, t));
    Tensor h = relu(up.apply(x));
    int wide = up.apply(x).size(-1) + up.weight().size(0) - this.table.size(1) + probe.apply(x).size(2);   // 16 + 16 - 12 + 5
    h = down.apply(h.narrow(2, 0, wide - 9));                                // 16 of 16
    h = h.add(x.view(B, -1).size(-1) / 48);                                  // + 1
    h = mix.apply(h);
    int n = Tensor.cat(List.of(h, x), 2).size(2) + pos.size(0) - 26;        // 16 + 10 - 26 = 0
    Tensor last = h.select(1, h.size(1) - 1 - n);
    return head.apply(drop.apply(last));
  }
}
