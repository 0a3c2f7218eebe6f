package test;

import dev.kiln.dsl.Linear;
import dev.kiln.dsl.Model;
import dev.kiln.dsl.Module;
import dev.kiln.runtime.Tensor;

/**
 * Parameters sliced in forward into runs at several strides: two dimensions narrowed ({@code grid[:, :2, :4]} of {@code [6,
 * 3, 6]}: 6 groups of 2 runs), an entry selected of a narrowed table (runs at one stride after all), three dimensions
 * narrowed ({@code cube[:, :2, :2, :4]}: runs at three strides) read twice. Each read as eager mode computes it, its
 * gradient added to the runs it came from.
 */
@Model(input = {6, 8})
public class StridedParameters extends Module {
  final Tensor grid = registerParameter("grid", Tensor.randn(6, 3, 6).mul(0.5).requiresGrad(true));
  final Tensor table = registerParameter("table", Tensor.randn(6, 2, 10).requiresGrad(true));
  final Tensor cube = registerParameter("cube", Tensor.randn(3, 3, 3, 5).requiresGrad(true));
  final Linear head = new Linear(48, 3);

  @Override
  public Tensor forward(Tensor x) {
    Tensor h = x.add(grid.narrow(1, 0, 2).narrow(2, 0, 4).view(6, 8));   // [6, 2, 4]: 6 groups 18 apart of 2 runs 6 apart
    h = h.mul(table.narrow(2, 1, 8).select(1, 1));                       // [6, 8]: 6 runs 20 apart
    Tensor c = cube.narrow(3, 0, 4).narrow(2, 0, 2).narrow(1, 0, 2).reshape(6, 8); // runs at 5, 15 and 45
    h = h.sub(c).add(h.mul(c));
    return head.apply(h.flatten(1, 2));
  }
}
