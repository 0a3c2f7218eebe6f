package test;

import dev.kiln.dsl.LSTM;
import dev.kiln.dsl.Linear;
import dev.kiln.dsl.Model;
import dev.kiln.dsl.Module;
import dev.kiln.runtime.Tensor;

/**
 * The PyTorch tutorials' LSTM classifier, written as they write it: zero initial states built in forward
 * ({@code h0 = torch.zeros(self.num_layers, x.size(0), self.hidden_size)}, and c0), passed explicitly, then the last
 * step's output into a linear head ({@code out, _ = self.lstm(x, (h0, c0)); return self.fc(out[:, -1, :])}).
 */
@Model(input = {6, 5})
public class TutorialLstm extends Module {
  static final int NUM_LAYERS = 2;
  static final int HIDDEN_SIZE = 8;
  final LSTM lstm = new LSTM(5, HIDDEN_SIZE).numLayers(NUM_LAYERS).dropout(0.25).batchFirst(true);
  final Linear fc = new Linear(HIDDEN_SIZE, 3);

  @Override
  public Tensor forward(Tensor x) {
    Tensor h0 = Tensor.zeros(NUM_LAYERS, x.size(0), HIDDEN_SIZE).to(x.device());
    Tensor c0 = Tensor.zeros(NUM_LAYERS, x.size(0), HIDDEN_SIZE).to(x.device());
    Tensor out = lstm.forwardWithState(x, h0, c0).output();   // [N, 6, 8]
    return fc.apply(out.select(1, -1));                        // out[:, -1, :]
  }
}
