package test;

import static dev.kiln.dsl.F.conv1d;
import static dev.kiln.dsl.F.conv2d;
import static dev.kiln.dsl.F.flatten;
import static dev.kiln.dsl.F.relu;

import dev.kiln.dsl.Linear;
import dev.kiln.dsl.Model;
import dev.kiln.dsl.Module;
import dev.kiln.runtime.Tensor;

/**
 * Functional convolutions of the model's own tensors, PyTorch's {@code F.conv2d(x, self.weight, self.bias, ...)}: a
 * padded 3x3 with a bias, a strided, dilated, grouped one without, then over the flattened maps a padded 1-d one and a
 * depthwise 1-d smoothing filter held as a buffer (no gradient).
 */
@Model(input = {3, 8, 8})
public class FunctionalConv extends Module {
  static final int C = 6;
  final Tensor w1 = registerParameter("w1", Tensor.randn(C, 3, 3, 3).mul(0.2).requiresGrad(true));
  final Tensor b1 = registerParameter("b1", Tensor.randn(C).mul(0.1).requiresGrad(true));
  final Tensor wd = registerParameter("wd", Tensor.randn(C, 2, 3, 3).mul(0.3).requiresGrad(true));
  final Tensor w1d = registerParameter("w1d", Tensor.randn(4, C, 3).mul(0.2).requiresGrad(true));
  final Tensor smooth = registerBuffer("smooth", Tensor.ones(4, 1, 3).mul(0.25));
  final Linear fc = new Linear(4 * 16, 3);

  @Override
  public Tensor forward(Tensor x) {
    Tensor h = relu(conv2d(x, w1, b1, 1, 1));       // [N, 6, 8, 8]
    h = conv2d(h, wd, null, 2, 2, 2, 3);            // stride 2, padding 2, dilation 2, 3 groups: [N, 6, 4, 4]
    Tensor s = conv1d(flatten(h, 2, 3), w1d, null, 1, 1); // [N, 6, 16] -> [N, 4, 16]
    s = conv1d(s, smooth, null, 1, 1, 1, 4);        // depthwise, a buffer: [N, 4, 16]
    return fc.apply(flatten(s));
  }
}
