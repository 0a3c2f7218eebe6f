package test;

import static dev.kiln.dsl.F.flatten;
import static dev.kiln.dsl.F.relu;

import dev.kiln.dsl.BatchNorm2d;
import dev.kiln.dsl.Conv2d;
import dev.kiln.dsl.Linear;
import dev.kiln.dsl.Model;
import dev.kiln.dsl.Module;
import dev.kiln.runtime.Tensor;

/**
 * Layer fields named like what the generated code declares (n, p, x, out, and fcB beside fc's bias
 * local), one typed as Module, and layers applied twice: the generated class must still compile
 * and compute what this class computes.
 */
@Model(input = {2, 6, 6})
public class AwkwardNames extends Module {
  final Conv2d n = new Conv2d(2, 2, 3).padding(1);
  final BatchNorm2d p = new BatchNorm2d(2);
  final Module x = new Conv2d(2, 3, 3);
  final Linear fc = new Linear(48, 8);
  final Linear fcB = new Linear(8, 8);
  final Linear out = new Linear(8, 4);

  @Override
  public Tensor forward(Tensor input) {
    Tensor h = relu(n.apply(relu(n.apply(input))));
    h = relu(p.apply(h));
    h = relu(x.apply(h));
    h = flatten(h);
    h = relu(fc.apply(h));
    h = relu(fcB.apply(fcB.apply(h)));
    return out.apply(h);
  }
}
