package test;

import static dev.kiln.dsl.F.adaptiveAvgPool2d;
import static dev.kiln.dsl.F.flatten;

import dev.kiln.dsl.BatchNorm2d;
import dev.kiln.dsl.Conv2d;
import dev.kiln.dsl.Dropout;
import dev.kiln.dsl.Init;
import dev.kiln.dsl.Linear;
import dev.kiln.dsl.Model;
import dev.kiln.dsl.Module;
import dev.kiln.dsl.ReLU6;
import dev.kiln.dsl.Sequential;
import dev.kiln.runtime.Tensor;

/**
 * pytorch/vision {@code torchvision/models/mobilenetv2.py}'s MobileNetV2 at width 0.25 (rounded to multiples of 4) on
 * 32x32 images with three rows of its inverted residual setting (t, c, n, s = 1, 16, 1, 1; 6, 24, 2, 2; 6, 32, 1, 2) and
 * a last channel of 64: Conv2dNormActivation (conv, batch norm, ReLU6) as a helper returning its Sequential, inverted
 * residuals with an expansion only where t != 1 and a residual where the stride is 1 and the width stays, a depthwise
 * 3x3, dropout and a linear classifier; the init of {@code MobileNetV2.__init__}.
 */
@Model(input = {3, 32, 32})
public class ZooMobileNetV2 extends Module {
  /** _make_divisible(v, divisor): v rounded to the nearest multiple of divisor, never down by more than 10%. */
  static int makeDivisible(double v, int divisor) {
    int newV = Math.max(divisor, (int) (v + divisor / 2.0) / divisor * divisor);
    return newV < 0.9 * v ? newV + divisor : newV;
  }

  /** Conv2dNormActivation(in, out, kernel_size, stride, groups, activation_layer=nn.ReLU6). */
  static Sequential convBNReLU(int inPlanes, int outPlanes, int kernelSize, int stride, int groups) {
    return Sequential.of(
        new Conv2d(inPlanes, outPlanes, kernelSize).stride(stride).padding((kernelSize - 1) / 2).groups(groups).bias(false),
        new BatchNorm2d(outPlanes),
        new ReLU6());
  }

  static class InvertedResidual extends Module {
    final int stride;
    final boolean useResConnect;
    final Sequential conv;

    InvertedResidual(int inp, int oup, int stride, int expandRatio) {
      this.stride = stride;
      int hiddenDim = (int) Math.round(inp * (double) expandRatio);
      this.useResConnect = stride == 1 && inp == oup;
      conv = expandRatio != 1
          ? Sequential.of(
              convBNReLU(inp, hiddenDim, 1, 1, 1), // pw
              convBNReLU(hiddenDim, hiddenDim, 3, stride, hiddenDim), // dw
              new Conv2d(hiddenDim, oup, 1).stride(1).padding(0).bias(false), // pw-linear
              new BatchNorm2d(oup))
          : Sequential.of(
              convBNReLU(hiddenDim, hiddenDim, 3, stride, hiddenDim), // dw
              new Conv2d(hiddenDim, oup, 1).stride(1).padding(0).bias(false), // pw-linear
              new BatchNorm2d(oup));
    }

    @Override
    public Tensor forward(Tensor x) {
      if (useResConnect) {
        return x.add(conv.apply(x));
      } else {
        return conv.apply(x);
      }
    }
  }

  static final double WIDTH_MULT = 0.25;
  static final int ROUND_NEAREST = 4;

  // features: the first layer, then for each (t, c, n, s) n inverted residuals of output channel
  // makeDivisible(c * WIDTH_MULT, ROUND_NEAREST), the first with stride s; then the last layer
  final Sequential features = Sequential.of(
      convBNReLU(3, makeDivisible(32 * WIDTH_MULT, ROUND_NEAREST), 3, 2, 1),
      new InvertedResidual(8, makeDivisible(16 * WIDTH_MULT, ROUND_NEAREST), 1, 1),
      new InvertedResidual(4, makeDivisible(24 * WIDTH_MULT, ROUND_NEAREST), 2, 6),
      new InvertedResidual(8, makeDivisible(24 * WIDTH_MULT, ROUND_NEAREST), 1, 6),
      new InvertedResidual(8, makeDivisible(32 * WIDTH_MULT, ROUND_NEAREST), 2, 6),
      convBNReLU(8, 64, 1, 1, 1));
  final Sequential classifier = Sequential.of(new Dropout(0.2), new Linear(64, 10));

  public ZooMobileNetV2() {
    // weight initialization
    for (Module m : modules()) {
      if (m instanceof Conv2d c) {
        Init.kaimingNormal(c.weight(), 0, Init.FanMode.FAN_OUT, Init.Nonlinearity.RELU);
      } else if (m instanceof BatchNorm2d bn) {
        Init.ones(bn.weight());
        Init.zeros(bn.bias());
      } else if (m instanceof Linear l) {
        Init.normal(l.weight(), 0, 0.01);
        Init.zeros(l.bias());
      }
    }
  }

  @Override
  public Tensor forward(Tensor x) {
    x = features.apply(x);
    // Cannot use "squeeze" as batch-size can be 1
    x = adaptiveAvgPool2d(x, 1, 1);
    x = flatten(x, 1, -1);
    x = classifier.apply(x);
    return x;
  }
}
