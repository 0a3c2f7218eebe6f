package test;

import dev.kiln.dsl.LSTMCell;
import dev.kiln.dsl.Linear;
import dev.kiln.dsl.Model;
import dev.kiln.dsl.Module;
import dev.kiln.dsl.RecurrentCell;
import dev.kiln.runtime.Tensor;
import java.util.ArrayList;
import java.util.List;

/**
 * pytorch/examples time_sequence_prediction's Sequence (hidden 16 for 51): two LSTMCells unrolled over the 12 samples
 * of each sequence [N, 12], a linear read-out at each step, then {@code future} more steps each fed its own last
 * prediction; the outputs joined along time, [N, 12 + future]. Compiled as written: forward(input) is forward(input, 0),
 * inlined with future folded, the loop over input.split(1, 1) unrolled and each cell step the compiled LSTM's one step;
 * forward(input, future) with future known only at run time runs eagerly (TimeSequence is the port with two LSTMs).
 */
@Model(input = {12})
public class TimeSequenceCells extends Module {
  static final int HIDDEN = 16;

  final LSTMCell lstm1 = new LSTMCell(1, HIDDEN);
  final LSTMCell lstm2 = new LSTMCell(HIDDEN, HIDDEN);
  final Linear linear = new Linear(HIDDEN, 1);

  @Override
  public Tensor forward(Tensor input) {
    return forward(input, 0);
  }

  /** PyTorch's {@code forward(input, future=0)}: {@code future} more steps, each fed the prediction before it. */
  public Tensor forward(Tensor input, int future) {
    List<Tensor> outputs = new ArrayList<>();
    Tensor hT = Tensor.zeros(input.size(0), HIDDEN);
    Tensor cT = Tensor.zeros(input.size(0), HIDDEN);
    Tensor hT2 = Tensor.zeros(input.size(0), HIDDEN);
    Tensor cT2 = Tensor.zeros(input.size(0), HIDDEN);
    Tensor output = null;
    for (Tensor inputT : input.split(1, 1)) {
      RecurrentCell.State s1 = lstm1.step(inputT, hT, cT);
      hT = s1.h();
      cT = s1.c();
      RecurrentCell.State s2 = lstm2.step(hT, hT2, cT2);
      hT2 = s2.h();
      cT2 = s2.c();
      output = linear.apply(hT2);
      outputs.add(output);
    }
    for (int i = 0; i < future; i++) {
      RecurrentCell.State s1 = lstm1.step(output, hT, cT);
      hT = s1.h();
      cT = s1.c();
      RecurrentCell.State s2 = lstm2.step(hT, hT2, cT2);
      hT2 = s2.h();
      cT2 = s2.c();
      output = linear.apply(hT2);
      outputs.add(output);
    }
    return Tensor.cat(outputs, 1);
  }
}
