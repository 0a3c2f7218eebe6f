package test;

import static dev.kiln.dsl.F.flatten;
import static dev.kiln.dsl.F.relu;
import static dev.kiln.dsl.F.silu;

import dev.kiln.dsl.BatchNorm2d;
import dev.kiln.dsl.ConvTranspose2d;
import dev.kiln.dsl.Linear;
import dev.kiln.dsl.Model;
import dev.kiln.dsl.Module;
import dev.kiln.runtime.Tensor;

/**
 * A decoder of grouped, dilated and depthwise transposed convolutions: grouped with dilation, stride 2 and output
 * padding; depthwise with stride 2; grouped with a non-square dilation and kernel, without a bias.
 */
@Model(input = {4, 5, 5})
public class GroupedDecoder extends Module {
  final ConvTranspose2d up1 = new ConvTranspose2d(4, 6, 3).stride(2).padding(1).dilation(2).outputPadding(1).groups(2); // [6, 12, 12]
  final BatchNorm2d bn = new BatchNorm2d(6);
  final ConvTranspose2d dw = new ConvTranspose2d(6, 6, 3).stride(2).padding(1).outputPadding(1).groups(6); // [6, 24, 24]
  final ConvTranspose2d up3 = new ConvTranspose2d(6, 2, 2, 3).dilation(2, 1).groups(2).bias(false); // [2, 26, 26]
  final Linear fc = new Linear(2 * 26 * 26, 3);

  @Override
  public Tensor forward(Tensor x) {
    Tensor h = relu(bn.apply(up1.apply(x)));
    h = silu(dw.apply(h));
    return fc.apply(flatten(up3.apply(h)));
  }
}
