package test;

import static dev.kiln.dsl.F.relu;

import dev.kiln.dsl.Linear;
import dev.kiln.dsl.Model;
import dev.kiln.dsl.Module;
import dev.kiln.dsl.ModuleList;
import dev.kiln.dsl.ReLU;
import dev.kiln.dsl.Sequential;
import dev.kiln.runtime.Tensor;

/**
 * While loops over constants, unrolled as counted for loops are: every block of a ModuleList by {@code h.get(i)}, a
 * Sequential's layers by a do-while, and a {@code while (true)} counting down that skips one block ({@code continue})
 * and leaves at a constant turn ({@code break}), the blocks it applies again sharing their weights.
 */
@Model(input = {6})
public class WhileLoops extends Module {
  static final int W = 8;
  static final int SKIP = 2;

  static class Res extends Module {
    final Linear fc = new Linear(W, W);

    @Override
    public Tensor forward(Tensor x) {
      return x.add(relu(fc.apply(x)));
    }
  }

  final Linear in = new Linear(6, W);
  final ModuleList<Res> h = ModuleList.of(new Res(), new Res(), new Res(), new Res());
  final Sequential tail = Sequential.of(new Linear(W, W), new ReLU(), new Linear(W, W));
  final Linear out = new Linear(W, 3);

  @Override
  public Tensor forward(Tensor x) {
    x = in.apply(x);
    int i = 0;
    while (i < h.size()) {
      x = h.get(i).apply(x);
      i++;
    }
    int j = 0;
    do {
      x = tail.get(j).apply(x);
      j += 1;
    } while (j < tail.size());
    int k = h.size() - 1;
    while (true) {
      if (k == SKIP) {
        k--;
        continue;
      }
      x = h.get(k).apply(x).mul(0.5);
      if (k == 1) {
        break;
      }
      k--;
    }
    return out.apply(x);
  }
}
