package test;

import static dev.kiln.dsl.F.flatten;

import dev.kiln.dsl.Linear;
import dev.kiln.dsl.Model;
import dev.kiln.dsl.Module;
import dev.kiln.runtime.Tensor;

/**
 * The Tensor methods of eager mode that compile since: {@code neg()} (and of a negated value read twice), amax and amin over
 * several dimensions at once, kept and not, adjacent and apart, over lines with ties (a clamp's bound: the gradient shared
 * among every tie of the group) and without; roll along one dimension by a shift past its size and back, and along two at
 * once (a dimension given twice rolls by both).
 */
@Model(input = {3, 4, 8})
public class RollExtrema extends Module {
  final Linear mix = new Linear(8, 8);
  final Linear head = new Linear(32, 3);

  @Override
  public Tensor forward(Tensor x) {
    Tensor h = mix.apply(x);
    Tensor n = h.neg();
    Tensor top = h.clamp(-0.3f, 0.3f).amax(1, 2);
    Tensor low = n.amin(new int[] {-1, 2}, true);
    Tensor apart = h.relu().amax(new int[] {3, 1});
    Tensor rolled = h.roll(9, 3).add(n.roll(new int[] {-1, 2, 1}, new int[] {2, 1, 2}));
    Tensor flat = flatten(rolled.sub(low).amax(new int[] {1}));
    return head.apply(flat).add(top.sum(1, true)).add(apart.sum(1, true)).add(n.neg().amax(1, 3).amin(new int[] {1}, true));
  }
}
