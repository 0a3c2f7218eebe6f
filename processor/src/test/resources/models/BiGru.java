package test;

import static dev.kiln.dsl.F.mean;

import dev.kiln.dsl.GRU;
import dev.kiln.dsl.Linear;
import dev.kiln.dsl.Model;
import dev.kiln.dsl.Module;
import dev.kiln.runtime.Tensor;

/** A bidirectional two-layer GRU over float sequences, its outputs averaged over the steps, then a linear head. */
@Model(input = {7, 5})
public class BiGru extends Module {
  final GRU gru = new GRU(5, 6).numLayers(2).bidirectional(true).batchFirst(true);
  final Linear head = new Linear(2 * 6, 3);

  @Override
  public Tensor forward(Tensor x) {
    Tensor out = gru.apply(x);            // [N, 7, 5] -> [N, 7, 12]
    return head.apply(mean(out, 1));      // [N, 12]
  }
}
