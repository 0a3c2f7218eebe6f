package test;

import static dev.kiln.dsl.F.relu;

import dev.kiln.dsl.Input;
import dev.kiln.dsl.Linear;
import dev.kiln.dsl.Model;
import dev.kiln.dsl.Module;
import dev.kiln.runtime.Tensor;
import java.util.List;

/**
 * A two-input classifier: one tower per input, their features side by side into one head (a siamese
 * pair's join), with an input added to x (a shift of x's shape) and one repeated over the joined
 * features (a per-sample gain [N, 1]). forward runs the first tower alone.
 */
@Model(input = {6})
public class TwoTower extends Module {
  final Linear towerA = new Linear(6, 8);
  final Linear towerB = new Linear(4, 8);
  final Linear head = new Linear(16, 3);
  final Linear headA = new Linear(8, 3);

  public Tensor forwardPair(Tensor a, @Input({4}) Tensor b, @Input({6}) Tensor shift, @Input({1}) Tensor gain) {
    Tensor h = Tensor.cat(List.of(relu(towerA.apply(a.add(shift))), relu(towerB.apply(b))), 1);   // [N, 16]
    return head.apply(h.mul(gain));
  }

  @Override
  public Tensor forward(Tensor x) {
    return headA.apply(relu(towerA.apply(x)));
  }
}
