package test;

import static dev.kiln.dsl.F.flatten;
import static dev.kiln.dsl.F.mean;
import static dev.kiln.dsl.F.relu;
import static dev.kiln.dsl.F.sum;

import dev.kiln.dsl.Conv2d;
import dev.kiln.dsl.Linear;
import dev.kiln.dsl.Model;
import dev.kiln.dsl.Module;
import dev.kiln.runtime.Tensor;

/**
 * Reductions over several dimensions at once, as PyTorch's {@code dim=(2, 3)}: each channel's mean over
 * the map kept ({@code [N, 8, 1, 1]}, one run of dimensions: one pass of the reduce-along kernel) and
 * subtracted, the mean square over the channels and the columns ({@code (-1, 1)}, two runs: one pass of
 * {@code sumOver}), a sum over them kept ({@code [N, 1, 6, 1]}) and a global average pool written
 * {@code (3, 2)}. The centred map feeds three reductions, so their gradients add up.
 */
@Model(input = {3, 6, 5})
public class MapReductions extends Module {
  final Conv2d conv1 = new Conv2d(3, 8, 3).padding(1);
  final Linear fc = new Linear(8, 3);
  final Linear rows = new Linear(6, 3);

  @Override
  public Tensor forward(Tensor x) {
    Tensor h = relu(conv1.apply(x));                   // [N, 8, 6, 5]
    Tensor m = h.mean(new int[] {2, 3}, true);         // [N, 8, 1, 1]
    h = h.sub(m);
    Tensor s = mean(h.mul(h), new int[] {-1, 1});      // [N, 6]
    Tensor k = h.sum(new int[] {3, 1}, true);          // [N, 1, 6, 1]
    Tensor p = mean(h, new int[] {3, 2});              // [N, 8]
    return fc.apply(p).add(rows.apply(s.add(flatten(k))));
  }
}
