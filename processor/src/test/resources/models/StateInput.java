package test;

import dev.kiln.dsl.GRU;
import dev.kiln.dsl.Input;
import dev.kiln.dsl.Linear;
import dev.kiln.dsl.Model;
import dev.kiln.dsl.Module;
import dev.kiln.runtime.Tensor;

/**
 * A recurrent layer's initial state as a further input ({@code def forward(self, x, h0)}): one sample's [8], PyTorch's
 * [1, N, 8] as {@code h.unsqueeze(0)}; its gradient is the input's. forward starts from zeros.
 */
@Model(input = {6, 5})
public class StateInput extends Module {
  final GRU gru = new GRU(5, 8).batchFirst(true);
  final Linear head = new Linear(8, 3);

  public Tensor forwardFrom(Tensor x, @Input({8}) Tensor h) {
    return head.apply(gru.forwardWithState(x, h.unsqueeze(0)).output().select(1, -1));
  }

  @Override
  public Tensor forward(Tensor x) {
    return head.apply(gru.forwardWithState(x).output().select(1, -1));
  }
}
