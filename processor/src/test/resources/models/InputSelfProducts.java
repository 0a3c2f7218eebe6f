package test;

import dev.kiln.dsl.Linear;
import dev.kiln.dsl.Model;
import dev.kiln.dsl.Module;
import dev.kiln.runtime.Tensor;

/**
 * The model's input read by both operands of a product and again by a second: its gradient (the input's) adds the three in
 * eager's order.
 */
@Model(input = {6, 8})
public class InputSelfProducts extends Module {
  final Linear head = new Linear(48, 3);

  @Override
  public Tensor forward(Tensor x) {
    Tensor att = x.matmul(x.transpose(1, 2));
    return head.apply(att.matmul(x).flatten(1, 2));
  }
}
