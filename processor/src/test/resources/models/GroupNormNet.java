package test;

import static dev.kiln.dsl.F.flatten;
import static dev.kiln.dsl.F.silu;

import dev.kiln.dsl.Conv2d;
import dev.kiln.dsl.GroupNorm;
import dev.kiln.dsl.InstanceNorm2d;
import dev.kiln.dsl.Linear;
import dev.kiln.dsl.Model;
import dev.kiln.dsl.Module;
import dev.kiln.dsl.Sequential;
import dev.kiln.dsl.SiLU;
import dev.kiln.runtime.Tensor;

/**
 * A diffusion model's block in small: conv, GroupNorm, SiLU (a Sequential), a second conv with instance norm (with a
 * weight and bias), a GroupNorm without affine
 * over the flattened [N, 144] in two groups, and a linear head.
 */
@Model(input = {3, 6, 6})
public class GroupNormNet extends Module {
  final Sequential block = Sequential.of(new Conv2d(3, 8, 3).padding(1), new GroupNorm(4, 8), new SiLU());
  final Conv2d conv = new Conv2d(8, 4, 3).padding(1);
  final InstanceNorm2d inorm = new InstanceNorm2d(4, 1e-5, true);
  final GroupNorm plain = new GroupNorm(2, 144, 1e-3, false);
  final Linear head = new Linear(144, 3);

  @Override
  public Tensor forward(Tensor x) {
    Tensor h = block.apply(x);
    h = silu(inorm.apply(conv.apply(h)));
    return head.apply(plain.apply(flatten(h)));
  }
}
