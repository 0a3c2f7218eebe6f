package test;

import dev.kiln.dsl.GRU;
import dev.kiln.dsl.LSTM;
import dev.kiln.dsl.Linear;
import dev.kiln.dsl.Model;
import dev.kiln.dsl.Module;
import dev.kiln.runtime.Tensor;
import java.util.List;

/**
 * Initial states computed from activations, as a conditional language model or an image captioner starts its decoder
 * from a feature vector: a GRU's h0 a Linear of the sequence's mean viewed as [1, N, 8] then tanh'd ({@code h0 =
 * torch.tanh(self.proj(f).view(1, -1, 8))}); an LSTM over the GRU's output, its h0 a projection of the mean and its c0
 * one of the GRU's last step, each unsqueezed ({@code .unsqueeze(0)}, inline). (Each value is read at most twice, so
 * that the gradients' sums are eager mode's bit for bit.)
 */
@Model(input = {6, 5})
public class StateFromFeatures extends Module {
  static final int H = 8;
  final Linear proj = new Linear(5, H);
  final Linear projH = new Linear(5, 4);
  final Linear projC = new Linear(H, 4);
  final GRU gru = new GRU(5, H).batchFirst(true);
  final LSTM lstm = new LSTM(H, 4).batchFirst(true);
  final Linear head = new Linear(H + 4, 3);

  @Override
  public Tensor forward(Tensor x) {
    Tensor feat = x.mean(1);                                       // [N, 5]
    Tensor h0 = proj.apply(feat).view(1, -1, H).tanh();            // [1, N, 8]
    Tensor seq = gru.forwardWithState(x, h0).output();             // [N, 6, 8]
    Tensor a = seq.select(1, -1);
    Tensor b = lstm.forwardWithState(seq, projH.apply(feat).unsqueeze(0), projC.apply(a).unsqueeze(0)).h().select(0, -1);
    return head.apply(Tensor.cat(List.of(a, b), 1));
  }
}
