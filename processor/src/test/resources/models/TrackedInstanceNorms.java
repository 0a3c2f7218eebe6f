package test;

import static dev.kiln.dsl.F.flatten;

import dev.kiln.dsl.InstanceNorm1d;
import dev.kiln.dsl.InstanceNorm2d;
import dev.kiln.dsl.Linear;
import dev.kiln.dsl.Model;
import dev.kiln.dsl.Module;
import dev.kiln.runtime.Tensor;

/**
 * Instance norms keeping running statistics ({@code track_running_stats=True}), with a weight and bias and without, 1d and
 * 2d: training normalises each sample by its own statistics and moves the running ones as eager mode (PyTorch) does;
 * evaluation normalises by the running ones.
 */
@Model(input = {3, 8})
public class TrackedInstanceNorms extends Module {
  final Linear mix = new Linear(8, 16);
  final InstanceNorm1d norm = new InstanceNorm1d(3, 1e-5, 0.1, true, true);
  final InstanceNorm1d plain = new InstanceNorm1d(3, 1e-3, 0.3, false, true);
  final InstanceNorm2d image = new InstanceNorm2d(3, 1e-5, 0.2, true, true);
  final Linear head = new Linear(48, 3);

  @Override
  public Tensor forward(Tensor x) {
    Tensor h = norm.apply(mix.apply(x));
    Tensor g = plain.apply(h.relu()).view(-1, 3, 4, 4);
    return head.apply(flatten(image.apply(g).add(g)));
  }
}
