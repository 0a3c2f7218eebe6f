package test;

import static dev.kiln.dsl.F.flatten;
import static dev.kiln.dsl.F.relu;

import dev.kiln.dsl.Embedding;
import dev.kiln.dsl.Linear;
import dev.kiln.dsl.Model;
import dev.kiln.dsl.Module;
import dev.kiln.runtime.Tensor;
import java.util.stream.IntStream;

/**
 * Rows of ids built in forward added to float values: positions shifted by two and viewed {@code [1, S]} (eager mode's
 * {@code [1, S, D]}; moved to the input's device, as a model run on CUDA in eager mode must), on the left of the add; the same table looked up again at {@code 0..4} written inline.
 */
@Model(input = {5, 4})
public class PositionRows extends Module {
  static final int S = 5;
  static final int D = 4;

  final Embedding wpe = new Embedding(8, D);
  final Linear fc = new Linear(D, D);
  final Linear head = new Linear(S * D, 3);

  @Override
  public Tensor forward(Tensor x) {
    Tensor pos = Tensor.labels(2, 3, 4, 5, 6).to(x.device()).view(1, -1);       // [1, S], on the model's device
    Tensor h = wpe.apply(pos).add(fc.apply(x));                                  // [1, S, D] + [N, S, D]
    h = h.add(wpe.apply(Tensor.labels(IntStream.rangeClosed(0, S - 1).toArray())));
    return head.apply(flatten(relu(h)));
  }
}
