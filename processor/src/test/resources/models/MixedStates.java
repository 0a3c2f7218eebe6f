package test;

import dev.kiln.dsl.LSTM;
import dev.kiln.dsl.Linear;
import dev.kiln.dsl.Model;
import dev.kiln.dsl.Module;
import dev.kiln.runtime.Tensor;
import java.util.List;

/**
 * An LSTM given one initial state and zeros for the other in one call: a two-layer decoder started from a GRU-like
 * encoder's h_n alone, its c0 zeros held in a local ({@code self.dec(x, (h_n, torch.zeros_like(h_n)))}); an LSTM whose
 * h0 is null (eager's zeros) and c0 a projection of the decoder's last step unsqueezed, over the encoder's output,
 * its c_n read. (Each value is read at most twice, so that the gradients' sums are eager mode's bit for bit.)
 */
@Model(input = {6, 5})
public class MixedStates extends Module {
  static final int H = 8;
  final LSTM enc = new LSTM(5, H).numLayers(2).batchFirst(true);
  final LSTM dec = new LSTM(5, H).numLayers(2).batchFirst(true);
  final Linear projC = new Linear(H, 4);
  final LSTM cell = new LSTM(H, 4).batchFirst(true);
  final Linear head = new Linear(H + 4, 3);

  @Override
  public Tensor forward(Tensor x) {
    var e = enc.forwardWithState(x);
    Tensor c0 = Tensor.zeros(2, x.size(0), H).to(x.device());
    Tensor a = dec.forwardWithState(x, e.h(), c0).output().select(1, -1);           // [N, 8]
    var o = cell.forwardWithState(e.output(), null, projC.apply(a).unsqueeze(0));
    Tensor b = o.c().select(0, 0);                                                   // [N, 4]
    return head.apply(Tensor.cat(List.of(a, b), 1));
  }
}
