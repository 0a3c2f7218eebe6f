package test;

import static dev.kiln.dsl.F.conv2d;
import static dev.kiln.dsl.F.flatten;
import static dev.kiln.dsl.F.groupNorm;
import static dev.kiln.dsl.F.silu;

import dev.kiln.dsl.Linear;
import dev.kiln.dsl.Model;
import dev.kiln.dsl.Module;
import dev.kiln.runtime.Tensor;

/**
 * PyTorch's {@code F.group_norm} in a compiled forward: without weight or bias over the input, with a trained gain and shift
 * after a functional convolution, with a bias alone, and with a fixed weight held as a buffer over the flattened rows.
 */
@Model(input = {4, 5, 5})
public class FunctionalGroupNorm extends Module {
  final Tensor w = registerParameter("w", Tensor.randn(6, 4, 3, 3).mul(0.2).requiresGrad(true));
  final Tensor gain = registerParameter("gain", Tensor.randn(6).mul(0.2).add(1).requiresGrad(true));
  final Tensor shift = registerParameter("shift", Tensor.randn(6).mul(0.1).requiresGrad(true));
  final Tensor offset = registerParameter("offset", Tensor.randn(6).mul(0.1).requiresGrad(true));
  final Tensor scale = registerBuffer("scale", Tensor.ones(6).mul(0.5));
  final Linear fc = new Linear(6 * 25, 3);

  @Override
  public Tensor forward(Tensor x) {
    Tensor h = groupNorm(x, 2);                                  // [N, 4, 5, 5], 2 groups, no affine
    h = silu(groupNorm(conv2d(h, w, null, 1, 1), 3, gain, shift, 1e-3)); // [N, 6, 5, 5]
    h = groupNorm(h, 6, null, offset, 1e-5);                     // instance norm with a bias alone
    Tensor rows = flatten(h, 2, 3);                              // [N, 6, 25]
    rows = groupNorm(rows, 1, scale, null, 1e-5);                // a layer norm of each sample, a fixed scale
    return fc.apply(flatten(rows));
  }
}
