package test;

import static dev.kiln.dsl.F.prelu;

import dev.kiln.dsl.Conv1d;
import dev.kiln.dsl.Flatten;
import dev.kiln.dsl.Linear;
import dev.kiln.dsl.Model;
import dev.kiln.dsl.Module;
import dev.kiln.dsl.PReLU;
import dev.kiln.runtime.Tensor;

/**
 * PReLU with one slope per channel of a 1-d map [N, C, L] (the channels moved last and back, as on [N, C, H, W]), as
 * a layer field and as {@code F.prelu} of a model parameter.
 */
@Model(input = {4, 7})
public class PReluSequence extends Module {
  final PReLU first = new PReLU(4, 0.2);
  final Conv1d conv = new Conv1d(4, 6, 3);
  final Tensor slope = registerParameter("slope", Tensor.full(0.3f, 6).requiresGrad(true));
  final Flatten flatten = new Flatten();
  final Linear head = new Linear(30, 3);

  @Override
  public Tensor forward(Tensor x) {
    Tensor h = conv.apply(first.apply(x.sub(0.1f))); // [N, 6, 5]
    return head.apply(flatten.apply(prelu(h, slope)));
  }
}
