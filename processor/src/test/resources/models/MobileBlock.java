package test;

import static dev.kiln.dsl.F.add;
import static dev.kiln.dsl.F.flatten;
import static dev.kiln.dsl.F.relu;

import dev.kiln.dsl.AdaptiveAvgPool2d;
import dev.kiln.dsl.BatchNorm2d;
import dev.kiln.dsl.Conv2d;
import dev.kiln.dsl.Linear;
import dev.kiln.dsl.Model;
import dev.kiln.dsl.Module;
import dev.kiln.runtime.Tensor;

/**
 * A MobileNet-style depthwise-separable block (depthwise 3x3 + BN + ReLU, pointwise 1x1 + BN + ReLU) over [N, 8, 12, 12],
 * then a strided depthwise convolution with channel multiplier 2, a dilated grouped 3x3 and ConvNeXt's 7x7 depthwise
 * in a residual branch, pooled into a classifier.
 */
@Model(input = {8, 12, 12})
public class MobileBlock extends Module {
  final Conv2d depthwise = new Conv2d(8, 8, 3).padding(1).groups(8).bias(false);
  final BatchNorm2d bn1 = new BatchNorm2d(8);
  final Conv2d pointwise = new Conv2d(8, 16, 1).bias(false);
  final BatchNorm2d bn2 = new BatchNorm2d(16);
  final Conv2d down = new Conv2d(16, 32, 3).stride(2).padding(1).groups(16);
  final Conv2d atrous = new Conv2d(32, 32, 3).padding(2).dilation(2).groups(4);
  final Conv2d wide = new Conv2d(32, 32, 7).padding(3).groups(32);
  final AdaptiveAvgPool2d pool = new AdaptiveAvgPool2d(1);
  final Linear fc = new Linear(32, 5);

  @Override
  public Tensor forward(Tensor x) {
    Tensor h = relu(bn1.apply(depthwise.apply(x)));        // [N, 8, 12, 12]
    h = relu(bn2.apply(pointwise.apply(h)));               // [N, 16, 12, 12]
    h = relu(down.apply(h));                               // [N, 32, 6, 6]
    h = relu(atrous.apply(h));                             // [N, 32, 6, 6]
    h = add(h, wide.apply(h));                             // [N, 32, 6, 6]
    return fc.apply(flatten(pool.apply(h)));
  }
}
