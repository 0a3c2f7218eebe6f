package test;

import dev.kiln.dsl.GRU;
import dev.kiln.dsl.LSTM;
import dev.kiln.dsl.Linear;
import dev.kiln.dsl.Model;
import dev.kiln.dsl.Module;
import dev.kiln.runtime.Tensor;
import java.util.List;

/**
 * Initial states of several layers built by hand, as a conditional decoder starts each of its layers from a feature
 * vector: a two-layer GRU's h0 a Linear of the sequence's mean viewed as [N, 2, 8] and transposed to PyTorch's [2, N,
 * 8], then tanh'd ({@code h0 = torch.tanh(self.proj(f).view(-1, 2, 8).transpose(0, 1))}); a two-layer bidirectional
 * LSTM's h0 and c0 likewise [4, N, 4] (the batch as x.size(0), reshape, transpose(1, 0)), inline.
 */
@Model(input = {6, 5})
public class LayerStates extends Module {
  static final int H = 8;
  static final int L = 2;
  final Linear proj = new Linear(5, L * H);
  final Linear projH = new Linear(5, 16);
  final Linear projC = new Linear(5, 16);
  final GRU gru = new GRU(5, H).numLayers(L).batchFirst(true);
  final LSTM lstm = new LSTM(H, 4).numLayers(2).bidirectional(true).batchFirst(true);
  final Linear head = new Linear(H + 8, 3);

  @Override
  public Tensor forward(Tensor x) {
    Tensor feat = x.mean(1);                                               // [N, 5]
    Tensor h0 = proj.apply(feat).view(-1, L, H).transpose(0, 1).tanh();    // [2, N, 8]
    Tensor seq = gru.forwardWithState(x, h0).output();                     // [N, 6, 8]
    Tensor a = seq.select(1, -1);
    Tensor b = lstm.forwardWithState(seq, projH.apply(feat).view(x.size(0), 4, 4).transpose(0, 1),
        projC.apply(feat).reshape(-1, 4, 4).transpose(1, 0)).output().select(1, -1);
    return head.apply(Tensor.cat(List.of(a, b), 1));
  }
}
