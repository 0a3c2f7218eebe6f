package test;

import static dev.kiln.dsl.F.flatten;
import static dev.kiln.dsl.F.relu;

import dev.kiln.dsl.Conv1d;
import dev.kiln.dsl.Linear;
import dev.kiln.dsl.Model;
import dev.kiln.dsl.Module;
import dev.kiln.runtime.Tensor;

/** WaveNet-style dilated 1-d convolutions over [N, 4, 32]: dilations 2 and 4, a depthwise and a grouped pointwise layer. */
@Model(input = {4, 32})
public class DilatedSequence extends Module {
  final Conv1d first = new Conv1d(4, 8, 2).dilation(2);
  final Conv1d depthwise = new Conv1d(8, 8, 3).padding(4).dilation(4).groups(8);
  final Conv1d mix = new Conv1d(8, 8, 1).groups(2).bias(false);
  final Linear fc = new Linear(8 * 30, 3);

  @Override
  public Tensor forward(Tensor x) {
    Tensor h = relu(first.apply(x));        // [N, 8, 30]
    h = relu(depthwise.apply(h));           // [N, 8, 30]
    return fc.apply(flatten(mix.apply(h)));
  }
}
