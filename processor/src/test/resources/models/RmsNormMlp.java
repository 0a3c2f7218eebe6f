package test;

import static dev.kiln.dsl.F.flatten;

import dev.kiln.dsl.Linear;
import dev.kiln.dsl.Model;
import dev.kiln.dsl.Module;
import dev.kiln.runtime.Tensor;

/**
 * RMSNorm written functionally, as LLaMA's: {@code x * rsqrt(mean(x^2, -1) + eps) * weight} with a learned weight
 * {@code [D]}, over the rows of {@code [N, S, D]}; then a residual and a head. The square, the rsqrt and the scale by
 * the row's factor are eager mode's kernels, the mean and the shift eager mode's too: its values and gradients bit for bit.
 */
@Model(input = {4, 8})
public class RmsNormMlp extends Module {
  static final float EPS = 1e-6f;
  final Linear up = new Linear(8, 8);
  final Tensor weight = registerParameter("weight", Tensor.rand(8).add(0.5f).requiresGrad(true));
  final Linear head = new Linear(4 * 8, 3);

  @Override
  public Tensor forward(Tensor x) {
    Tensor h = up.apply(x);
    Tensor normed = h.mul(h.square().mean(-1, true).add(EPS).rsqrt()).mul(weight);
    return head.apply(flatten(normed.add(x)));
  }
}
