package test;

import static dev.kiln.dsl.F.flatten;

import dev.kiln.dsl.Linear;
import dev.kiln.dsl.Model;
import dev.kiln.dsl.Module;
import dev.kiln.runtime.Tensor;

/**
 * Parameters of every shape a tensor field repeats over the batch with, by every arithmetic op: {@code [D]} multiplied,
 * {@code [T, D]} on the left of a sub and dividing, {@code [1, T, D]} subtracted and multiplied, {@code [T, D]} added with
 * a ReLU in the add's pass. Their gradients are eager mode's bit for bit (a suffix's summed in float, row by row).
 */
@Model(input = {6, 8})
public class FieldArithmetic extends Module {
  final Tensor scale = registerParameter("scale", Tensor.randn(8).requiresGrad(true));
  final Tensor left = registerParameter("left", Tensor.randn(6, 8).requiresGrad(true));
  final Tensor divisor = registerParameter("divisor", Tensor.rand(6, 8).add(1f).requiresGrad(true));
  final Tensor shift = registerParameter("shift", Tensor.randn(1, 6, 8).requiresGrad(true));
  final Tensor gate = registerParameter("gate", Tensor.randn(1, 6, 8).requiresGrad(true));
  final Tensor bias = registerParameter("bias", Tensor.randn(6, 8).requiresGrad(true));
  final Linear head = new Linear(6 * 8, 3);

  @Override
  public Tensor forward(Tensor x) {
    Tensor h = x.mul(scale);                 // [N, 6, 8] * [8]
    h = left.sub(h).div(divisor);            // [6, 8] - [N, 6, 8], then / [6, 8]
    h = h.sub(shift).mul(gate);              // [1, 6, 8] subtracted and multiplied
    h = h.add(bias).relu();                  // [6, 8], the ReLU in the add's pass
    return head.apply(flatten(h));
  }
}
