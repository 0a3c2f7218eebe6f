package test;

import static dev.kiln.dsl.F.flatten;
import static dev.kiln.dsl.F.reshape;

import dev.kiln.dsl.Linear;
import dev.kiln.dsl.Model;
import dev.kiln.dsl.Module;
import dev.kiln.runtime.Tensor;

/**
 * Flips along one and two dimensions, and repeats of one expand pass, of two, and of none (every count 1: a copy).
 */
@Model(input = {4, 6})
public class FlipsAndRepeats extends Module {
  final Linear fc = new Linear(6, 6);
  final Linear head = new Linear(8 * 12 * 3, 3);

  @Override
  public Tensor forward(Tensor x) {
    Tensor h = fc.apply(x);                                  // [N, 4, 6]
    Tensor f = h.flip(1, 2);                                 // [N, 4, 6]
    Tensor r = f.repeat(1, 2, 1);                            // [N, 8, 6]: one pass
    Tensor t = reshape(r, -1, 8, 6, 1).repeat(1, 1, 2, 3);   // [N, 8, 12, 3]: two passes
    Tensor u = t.flip(-1).repeat(new int[] {1, 1, 1, 1});    // a copy
    return head.apply(flatten(u));
  }
}
