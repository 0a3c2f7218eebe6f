package test;

import static dev.kiln.dsl.F.flatten;

import dev.kiln.dsl.InstanceNorm1d;
import dev.kiln.dsl.Linear;
import dev.kiln.dsl.Model;
import dev.kiln.dsl.Module;
import dev.kiln.runtime.Tensor;

/**
 * InstanceNorm1d over {@code [N, C, L]} with a weight and bias and without (PyTorch's defaults), and amax/amin along a
 * dimension, kept and not, over lines with ties (a clamp's bound, a ReLU's zeros: the gradient shared among them, eager's
 * rule) and without; lerp by a tensor of weights on both sides of 0.5 in size (eager's two formulas and where).
 */
@Model(input = {3, 8})
public class ExtremaNorms extends Module {
  final InstanceNorm1d norm = new InstanceNorm1d(3, 1e-5, 0.1, true, false);
  final InstanceNorm1d plain = new InstanceNorm1d(3);
  final Linear mix = new Linear(8, 8);
  final Linear head = new Linear(24, 3);

  @Override
  public Tensor forward(Tensor x) {
    Tensor h = norm.apply(mix.apply(x));
    Tensor top = h.clamp(-0.5f, 0.5f).amax(new int[] {1}, true);
    Tensor low = h.relu().amin(2);
    Tensor peak = plain.apply(x).amax(-1);
    Tensor floor = h.amin(new int[] {-1}, true);
    Tensor blend = h.lerp(h.relu(), h.mul(0.8f).tanh());
    return head.apply(flatten(blend.add(top).sub(floor))).add(low).add(peak);
  }
}
