package test;

import static dev.kiln.dsl.F.adaptiveAvgPool2d;
import static dev.kiln.dsl.F.add;
import static dev.kiln.dsl.F.avgPool2d;
import static dev.kiln.dsl.F.flatten;
import static dev.kiln.dsl.F.relu;

import dev.kiln.dsl.AdaptiveAvgPool2d;
import dev.kiln.dsl.AvgPool2d;
import dev.kiln.dsl.Conv2d;
import dev.kiln.dsl.Linear;
import dev.kiln.dsl.Model;
import dev.kiln.dsl.Module;
import dev.kiln.runtime.Tensor;

/** Average pooling: a layer with ceil mode and padding left out of the divisor, F.avgPool2d, adaptive to 2x3 (layer and F). */
@Model(input = {3, 9, 11})
public class Pools extends Module {
  final Conv2d conv = new Conv2d(3, 4, 3).padding(1);
  final AvgPool2d pool = new AvgPool2d(3).stride(2).padding(1).ceilMode(true).countIncludePad(false);
  final AdaptiveAvgPool2d adaptive = new AdaptiveAvgPool2d(2, 3);
  final Linear fc = new Linear(4 * 2 * 3, 3);

  @Override
  public Tensor forward(Tensor x) {
    Tensor h = pool.apply(relu(conv.apply(x)));                 // [N, 4, 5, 6]
    Tensor a = adaptive.apply(avgPool2d(h, 2, 1));              // [N, 4, 4, 5] -> [N, 4, 2, 3]
    Tensor g = adaptiveAvgPool2d(h, 2, 3);                      // [N, 4, 2, 3]
    return fc.apply(flatten(add(a, g)));
  }
}
