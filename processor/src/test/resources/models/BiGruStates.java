package test;

import static dev.kiln.dsl.F.mean;

import dev.kiln.dsl.GRU;
import dev.kiln.dsl.Linear;
import dev.kiln.dsl.Model;
import dev.kiln.dsl.Module;
import dev.kiln.dsl.Recurrent;
import dev.kiln.runtime.Tensor;
import java.util.List;

/**
 * A bidirectional two-layer GRU: its last layer's two last states side by side (PyTorch's
 * {@code torch.cat((h_n[-2], h_n[-1]), dim=1)}) plus its output averaged over the steps, so that the
 * states' gradient and the output's meet at each direction's last step; then a linear head.
 */
@Model(input = {7, 5})
public class BiGruStates extends Module {
  final GRU gru = new GRU(5, 6).numLayers(2).bidirectional(true).batchFirst(true);
  final Linear head = new Linear(2 * 6, 3);

  @Override
  public Tensor forward(Tensor x) {
    Recurrent.Output o = gru.forwardWithState(x);                                    // h_n [4, N, 6]
    Tensor both = Tensor.cat(List.of(o.h().select(0, -2), o.h().select(0, -1)), 1);  // [N, 12]
    return head.apply(both.add(mean(o.output(), 1)));
  }
}
