package test;

import static dev.kiln.dsl.F.conv2d;
import static dev.kiln.dsl.F.flatten;
import static dev.kiln.dsl.F.groupNorm;
import static dev.kiln.dsl.F.relu;

import dev.kiln.dsl.Linear;
import dev.kiln.dsl.Model;
import dev.kiln.dsl.Module;
import dev.kiln.dsl.ModuleList;
import dev.kiln.runtime.Tensor;

/**
 * Functional convolutions and group norms of a block's own tensors: two blocks in a ModuleList, each a depthwise 3x3 of
 * its own weight and bias, then a group norm by its own gain (state-dict keys {@code blocks.0.w}, ...).
 */
@Model(input = {4, 5, 5})
public class ConvBlocks extends Module {
  static class Smoother extends Module {
    final Tensor w = registerParameter("w", Tensor.randn(4, 1, 3, 3).mul(0.3).requiresGrad(true));
    final Tensor b = registerParameter("b", Tensor.randn(4).mul(0.1).requiresGrad(true));
    final Tensor gain = registerParameter("gain", Tensor.ones(4).requiresGrad(true));

    @Override
    public Tensor forward(Tensor x) {
      return relu(groupNorm(conv2d(x, w, b, 1, 1, 1, 4), 2, gain, null, 1e-5)).add(x);
    }
  }

  final ModuleList<Smoother> blocks = ModuleList.of(new Smoother(), new Smoother());
  final Linear fc = new Linear(4 * 25, 3);

  @Override
  public Tensor forward(Tensor x) {
    for (Smoother s : blocks) {
      x = s.apply(x);
    }
    return fc.apply(flatten(x));
  }
}
