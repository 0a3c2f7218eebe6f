package test;

import static dev.kiln.dsl.F.prelu;

import dev.kiln.dsl.Conv2d;
import dev.kiln.dsl.Flatten;
import dev.kiln.dsl.Linear;
import dev.kiln.dsl.Model;
import dev.kiln.dsl.Module;
import dev.kiln.dsl.PReLU;
import dev.kiln.dsl.Sequential;
import dev.kiln.runtime.Tensor;

/**
 * PReLU as a layer field (one slope, and one per channel of [N, C, H, W]), as a Sequential child (on [N, C]) and as {@code
 * F.prelu} of a model parameter (per channel of [N, C, H, W] and of [N, C]): eager's where(x > 0, x, slope * x), the
 * slopes' gradients added to the layers' and the model's parameters.
 */
@Model(input = {4, 5, 5})
public class PReluNet extends Module {
  final PReLU first = new PReLU(1, 0.5);
  final Conv2d conv = new Conv2d(4, 6, 3);
  final PReLU act = new PReLU(6);
  final Tensor gate = registerParameter("gate", Tensor.full(0.1f, 6).requiresGrad(true));
  final Sequential mlp = Sequential.of(new Flatten(), new Linear(54, 8), new PReLU(8, 0.2), new Linear(8, 8), new PReLU());
  final Tensor slope = registerParameter("slope", Tensor.full(0.3f, 8).requiresGrad(true));
  final Linear head = new Linear(8, 3);

  @Override
  public Tensor forward(Tensor x) {
    Tensor h = act.apply(conv.apply(first.apply(x))); // [N, 6, 3, 3]
    Tensor g = prelu(h.sub(0.1f), gate);              // [N, 6, 3, 3]
    return head.apply(prelu(mlp.apply(g), slope));
  }
}
