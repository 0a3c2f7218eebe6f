package test;

import dev.kiln.dsl.Linear;
import dev.kiln.dsl.Model;
import dev.kiln.dsl.Module;
import dev.kiln.runtime.Tensor;

/**
 * Masks computed from activations, as PyTorch code writes them: {@code h * (h > 0)}, a mask local read by a masked
 * fill and as a 0/1 value, a row mask {@code [N, 4, 1]} from a sum broadcast over {@code [N, 4, 8]}, and {@code eq}, {@code le}
 * in the calls, two values compared ({@code g.gt(relu)}, {@code s.lt(g)} broadcast), and {@code Tensor.where}. No gradient flows through a comparison; each compared value gets its other uses' gradients.
 */
@Model(input = {4, 8})
public class ActivationMasks extends Module {
  final Linear fc1 = new Linear(8, 8);
  final Linear fc2 = new Linear(8, 8);
  final Linear head = new Linear(8, 3);

  @Override
  public Tensor forward(Tensor x) {
    Tensor h = fc1.apply(x);                               // [N, 4, 8]
    Tensor relu = h.mul(h.gt(0));                          // ReLU written as a mask
    Tensor big = relu.ge(0.25f);                           // a mask local, read twice
    Tensor g = fc2.apply(relu).maskedFill(big, 0f);        // zero where relu >= 0.25
    g = g.add(relu.mul(big));
    Tensor s = relu.sum(2, true);                          // [N, 4, 1]
    g = g.mul(s).maskedFill(s.lt(0.5f), -0.5f);            // rows of a small sum: -0.5
    g = g.mul(s.lt(1f)).add(g.maskedFill(relu.eq(0), 0.125f));
    Tensor over = g.gt(relu);                              // two values: 1 where g > relu
    g = g.maskedFill(over, 0.5f).add(g.mul(s.lt(g)));      // [N, 4, 1] compared with [N, 4, 8], the repeated one first
    g = Tensor.where(g.gt(0), g, relu.mul(0.5f));          // where: g where positive, else half of relu
    g = Tensor.where(over, relu, g);                       // a mask local as where's condition
    return head.apply(g.maskedFill(g.le(-1f), -1f).mean(1));
  }
}
