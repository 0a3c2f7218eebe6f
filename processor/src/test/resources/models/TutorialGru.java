package test;

import dev.kiln.dsl.GRU;
import dev.kiln.dsl.Linear;
import dev.kiln.dsl.Model;
import dev.kiln.dsl.Module;
import dev.kiln.runtime.Tensor;
import java.util.List;

/**
 * A bidirectional two-layer GRU given its zero initial state inline, the batch size held in a local ({@code n =
 * x.shape[0]}; {@code o = self.gru(x, torch.zeros(2 * 2, n, 6))}): the last layer's two last states beside the averaged
 * output into a linear head.
 */
@Model(input = {7, 5})
public class TutorialGru extends Module {
  final GRU gru = new GRU(5, 6).numLayers(2).bidirectional(true).batchFirst(true);
  final Linear fc = new Linear(12, 3);

  @Override
  public Tensor forward(Tensor x) {
    int n = x.shape()[0];
    var o = gru.forwardWithState(x, Tensor.zeros(2 * 2, n, 6));                      // h_n [4, N, 6]
    Tensor last = Tensor.cat(List.of(o.h().select(0, -2), o.h().select(0, -1)), 1);   // [N, 12]
    return fc.apply(last.add(o.output().mean(1)));
  }
}
