package test;

import static dev.kiln.dsl.F.div;
import static dev.kiln.dsl.F.flatten;
import static dev.kiln.dsl.F.relu;
import static dev.kiln.dsl.F.sigmoid;
import static dev.kiln.dsl.F.sum;

import dev.kiln.dsl.Conv2d;
import dev.kiln.dsl.F;
import dev.kiln.dsl.Linear;
import dev.kiln.dsl.Model;
import dev.kiln.dsl.Module;
import dev.kiln.runtime.Tensor;

/**
 * Subtractions, divisions and reductions over feature maps: each channel's mean over the map
 * ({@code mean(3, true).mean(2, true)}, {@code [N, 8, 1, 1]}) subtracted, the map divided by a spatial
 * gate {@code [N, 1, 6, 6]} kept in (0.5, 1.5), then the repeated value as the left operand of a sub and
 * of a div, a sub and a div of one shape, a sum along the last dimension and a global average pool
 * ({@code mean(3).mean(2)}). The mean, the gate and the map feed several steps, so their gradients add up.
 */
@Model(input = {3, 6, 6})
public class CenteredGates extends Module {
  final Conv2d conv1 = new Conv2d(3, 8, 3).padding(1);
  final Conv2d gate = new Conv2d(8, 1, 1);
  final Linear fc = new Linear(8 * 6, 3);
  final Linear pooled = new Linear(8, 3);

  @Override
  public Tensor forward(Tensor x) {
    Tensor h = relu(conv1.apply(x));                   // [N, 8, 6, 6]
    Tensor m = h.mean(3, true).mean(2, true);          // [N, 8, 1, 1]: each channel's mean
    h = h.sub(m);
    Tensor g = sigmoid(gate.apply(h)).add(0.5);        // [N, 1, 6, 6]
    h = div(h, g);                                     // divided by the gate, repeated over the channels
    Tensor r = m.sub(h);                               // the repeated value on the left
    Tensor q = g.div(r.mul(r).add(1));                 // [N, 1, 6, 6] / [N, 8, 6, 6]
    h = F.sub(h, q).div(h.mul(h).add(2));              // one shape
    Tensor s = sum(h, -1);                             // [N, 8, 6]
    return fc.apply(flatten(s.sub(1.5))).add(pooled.apply(h.mean(3).mean(2)));
  }
}
