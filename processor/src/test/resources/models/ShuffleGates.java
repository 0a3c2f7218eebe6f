package test;

import static dev.kiln.dsl.F.flatten;
import static dev.kiln.dsl.F.glu;
import static dev.kiln.dsl.F.pixelShuffle;
import static dev.kiln.dsl.F.pixelUnshuffle;
import static dev.kiln.dsl.F.softmin;

import dev.kiln.dsl.GLU;
import dev.kiln.dsl.Linear;
import dev.kiln.dsl.Model;
import dev.kiln.dsl.Module;
import dev.kiln.dsl.PixelShuffle;
import dev.kiln.dsl.PixelUnshuffle;
import dev.kiln.dsl.Sequential;
import dev.kiln.dsl.Softmin;
import dev.kiln.runtime.Tensor;

/**
 * GLU, Softmin, PixelShuffle and PixelUnshuffle as layers of a Sequential, as fields and as F functions in forward: each
 * the steps eager mode's F form computes (narrows, a sigmoid and a mul; a neg and a softmax; a reshape, a permute and a
 * reshape).
 */
@Model(input = {8, 4, 4})
public class ShuffleGates extends Module {
  final Sequential body = Sequential.of(new Linear(4, 8), new GLU(), new PixelShuffle(2), new Softmin(1));
  final PixelUnshuffle unshuffle = new PixelUnshuffle(2);
  final GLU gate = new GLU(1);
  final Softmin soft = new Softmin(2);
  final Linear head = new Linear(32, 3);

  @Override
  public Tensor forward(Tensor x) {
    Tensor h = body.apply(x);                         // [N, 2, 8, 8]
    Tensor u = unshuffle.apply(h.mul(2f));            // [N, 8, 4, 4]
    Tensor s = soft.apply(gate.apply(u.add(x)));      // [N, 4, 4, 4]
    Tensor p = pixelUnshuffle(pixelShuffle(s, 2), 2); // [N, 4, 4, 4]
    Tensor q = softmin(glu(p, 1), -1);                // [N, 2, 4, 4]
    return head.apply(flatten(q));
  }
}
