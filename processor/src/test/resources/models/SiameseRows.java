package test;

import static dev.kiln.dsl.F.relu;

import dev.kiln.dsl.Linear;
import dev.kiln.dsl.Model;
import dev.kiln.dsl.Module;
import dev.kiln.runtime.Tensor;

/**
 * SiameseLayer's layer 64 wide, used twice on 120 rows a sample: a batch of 5 gives the weight gradient's product 600 rows, more
 * than one OpenBLAS block ({@code Blas.oneBlock}), where the second use's product must be made alone and then added.
 */
@Model(input = {120, 64})
public class SiameseRows extends Module {
  final Linear fc = new Linear(64, 64);
  final Linear out = new Linear(64, 3);

  @Override
  public Tensor forward(Tensor x) {
    Tensor a = relu(fc.apply(x));
    Tensor b = fc.apply(x.mul(x));
    return out.apply(a.add(b).mean(1));
  }
}
