package test;

import static dev.kiln.dsl.F.elu;
import static dev.kiln.dsl.F.hardtanh;
import static dev.kiln.dsl.F.softplus;

import dev.kiln.dsl.ELU;
import dev.kiln.dsl.Hardtanh;
import dev.kiln.dsl.Linear;
import dev.kiln.dsl.Model;
import dev.kiln.dsl.Module;
import dev.kiln.dsl.Sequential;
import dev.kiln.dsl.Softplus;
import dev.kiln.runtime.Tensor;

/**
 * ELU, softplus and hardtanh as layers of a Sequential (PyTorch's defaults and given hyper-parameters), as a
 * field and as F functions in forward, each a pass of its own each way; {@code h} read by two steps.
 */
@Model(input = {6})
public class PiecewiseMlp extends Module {
  final Sequential body = Sequential.of(new Linear(6, 8), new ELU(), new Linear(8, 8), new Softplus(2, 1), new Linear(8, 8),
      new Hardtanh(-0.5, 0.5));
  final Linear mid = new Linear(8, 8);
  final ELU elu = new ELU(0.3);
  final Linear head = new Linear(8, 3);

  @Override
  public Tensor forward(Tensor x) {
    Tensor h = body.apply(x);
    Tensor g = softplus(elu(mid.apply(h), 1.5), 0.5, 4);
    return head.apply(hardtanh(elu.apply(g.sub(1f))).add(softplus(hardtanh(h, -0.25, 2))));
  }
}
