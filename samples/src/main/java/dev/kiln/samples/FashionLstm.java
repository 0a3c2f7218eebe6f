package dev.kiln.samples;

import dev.kiln.dsl.LSTM;
import dev.kiln.dsl.Linear;
import dev.kiln.dsl.Model;
import dev.kiln.dsl.Module;
import dev.kiln.runtime.Tensor;

/**
 * An LSTM over FashionMNIST's rows: each image [1, 28, 28] is read as a sequence of 28 rows of 28
 * pixels, top to bottom, by an LSTM(28, 128) built batch first (PyTorch's {@code batch_first=True}),
 * and the output of its last step ({@code out[:, -1]}) goes into Linear(128, 10). The annotation
 * processor compiles it into {@code KilnFashionLstm}: the input projection of all 28 steps as one
 * GEMM, the recurrence as one fused run, back-propagation through time in one backward.
 */
@Model(input = {1, 28, 28})
public class FashionLstm extends Module {
  static final int ROWS = 28;
  static final int HIDDEN = 128;

  final LSTM lstm = new LSTM(28, HIDDEN).batchFirst(true);
  final Linear head = new Linear(HIDDEN, 10);

  @Override
  public Tensor forward(Tensor x) {
    Tensor out = lstm.apply(x.view(-1, ROWS, 28));   // [N, 28, 28] -> [N, 28, 128]
    return head.apply(out.select(1, -1));            // the last row's output: [N, 128]
  }
}
