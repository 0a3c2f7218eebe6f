package test;

import static dev.kiln.dsl.F.relu;

import dev.kiln.dsl.Linear;
import dev.kiln.dsl.Model;
import dev.kiln.dsl.Module;
import dev.kiln.dsl.ModuleList;
import dev.kiln.runtime.Tensor;

/**
 * Branches and a return inside a loop over blocks, on the unrolled index: every other block's output halved, and forward
 * returning from inside the loop at {@code EXIT} (the last block applied there once, the loop's later turns and the
 * return after it never reached).
 */
@Model(input = {6})
public class EarlyExits extends Module {
  static final int W = 8;
  static final int EXIT = 2;

  static class Res extends Module {
    final Linear fc = new Linear(W, W);

    @Override
    public Tensor forward(Tensor x) {
      return x.add(relu(fc.apply(x)));
    }
  }

  final Linear in = new Linear(6, W);
  final ModuleList<Res> h = ModuleList.of(new Res(), new Res(), new Res(), new Res());
  final Linear out = new Linear(W, 3);

  @Override
  public Tensor forward(Tensor x) {
    x = in.apply(x);
    for (int i = 0; i < h.size(); i++) {
      x = h.get(i).apply(x);
      if (i % 2 == 1) {
        x = x.mul(0.5);
      } else {
        x = relu(x);
      }
      if (i == EXIT) {
        return out.apply(h.get(-1).apply(x));
      }
    }
    return out.apply(x);
  }
}
