package test;

import static dev.kiln.dsl.F.relu;

import dev.kiln.dsl.Linear;
import dev.kiln.dsl.Model;
import dev.kiln.dsl.Module;
import dev.kiln.dsl.ModuleList;
import dev.kiln.runtime.Tensor;

/**
 * Blocks in a ModuleList that each read their own training mode, and a {@code ?:} on the model's mode in the loop
 * that applies them (read once per turn).
 */
@Model(input = {6})
public class ModeBlocks extends Module {
  static class Noisy extends Module {
    final Linear fc = new Linear(6, 6);

    @Override
    public Tensor forward(Tensor x) {
      Tensor h = fc.apply(x);
      if (isTraining()) {
        h = h.add(x.mul(0.1));
      }
      return relu(h);
    }
  }

  final ModuleList<Noisy> h = ModuleList.of(new Noisy(), new Noisy());
  final Linear head = new Linear(6, 3);

  @Override
  public Tensor forward(Tensor x) {
    for (Noisy b : h) {
      x = b.apply(x);
      x = isTraining() ? x : x.mul(0.9);
    }
    return head.apply(x);
  }
}
