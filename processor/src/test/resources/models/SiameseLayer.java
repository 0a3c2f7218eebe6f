package test;

import static dev.kiln.dsl.F.relu;

import dev.kiln.dsl.Linear;
import dev.kiln.dsl.Model;
import dev.kiln.dsl.Module;
import dev.kiln.runtime.Tensor;

/**
 * One layer applied to two values outside any loop, siamese-style ({@code fc.apply(a)}, {@code fc.apply(b)}): its
 * weight and bias gradients are the two uses' added, one use's bias gradient through a fused ReLU, the other's not.
 */
@Model(input = {6})
public class SiameseLayer extends Module {
  final Linear fc = new Linear(6, 6);
  final Linear out = new Linear(6, 3);

  @Override
  public Tensor forward(Tensor x) {
    Tensor a = relu(fc.apply(x));
    Tensor b = fc.apply(x.mul(x));
    return out.apply(a.add(b));
  }
}
