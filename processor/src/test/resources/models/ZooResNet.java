package test;

import static dev.kiln.dsl.F.flatten;

import dev.kiln.dsl.AdaptiveAvgPool2d;
import dev.kiln.dsl.BatchNorm2d;
import dev.kiln.dsl.Conv2d;
import dev.kiln.dsl.Init;
import dev.kiln.dsl.Linear;
import dev.kiln.dsl.MaxPool2d;
import dev.kiln.dsl.Model;
import dev.kiln.dsl.Module;
import dev.kiln.dsl.ReLU;
import dev.kiln.dsl.Sequential;
import dev.kiln.runtime.Tensor;

/**
 * pytorch/vision {@code torchvision/models/resnet.py}'s ResNet of BasicBlocks, layers [2, 1, 1, 1], at an eighth of its
 * width (8, 16, 32, 64 planes) on 32x32 images, ten classes: the 7x7 stem and max pool, {@code _make_layer}'s blocks
 * with a {@code downsample} Sequential where the stride or width changes, adaptive average pooling, {@code
 * torch.flatten(x, 1)}, kaiming (fan out) init and {@code zero_init_residual}.
 */
@Model(input = {3, 32, 32})
public class ZooResNet extends Module {
  static final int EXPANSION = 1;

  /** resnet.py's BasicBlock without a downsample (its {@code downsample=None}). */
  static class BasicBlock extends Module {
    final Conv2d conv1;
    final BatchNorm2d bn1;
    final ReLU relu = new ReLU();
    final Conv2d conv2;
    final BatchNorm2d bn2;

    BasicBlock(int inplanes, int planes, int stride) {
      conv1 = new Conv2d(inplanes, planes, 3).stride(stride).padding(1).bias(false); // conv3x3(inplanes, planes, stride)
      bn1 = new BatchNorm2d(planes);
      conv2 = new Conv2d(planes, planes, 3).stride(1).padding(1).bias(false); // conv3x3(planes, planes)
      bn2 = new BatchNorm2d(planes);
    }

    @Override
    public Tensor forward(Tensor x) {
      Tensor identity = x;
      Tensor out = conv1.apply(x);
      out = bn1.apply(out);
      out = relu.apply(out);
      out = conv2.apply(out);
      out = bn2.apply(out);
      out = out.add(identity);
      out = relu.apply(out);
      return out;
    }
  }

  /** The BasicBlock {@code _make_layer} gives a downsample: conv1x1 and a batch norm on the identity. */
  static class DownsampleBlock extends BasicBlock {
    final Sequential downsample;

    DownsampleBlock(int inplanes, int planes, int stride) {
      super(inplanes, planes, stride);
      downsample = Sequential.of(
          new Conv2d(inplanes, planes * EXPANSION, 1).stride(stride).bias(false), // conv1x1(inplanes, planes, stride)
          new BatchNorm2d(planes * EXPANSION));
    }

    @Override
    public Tensor forward(Tensor x) {
      Tensor identity = x;
      Tensor out = conv1.apply(x);
      out = bn1.apply(out);
      out = relu.apply(out);
      out = conv2.apply(out);
      out = bn2.apply(out);
      identity = downsample.apply(x);
      out = out.add(identity);
      out = relu.apply(out);
      return out;
    }
  }

  final Conv2d conv1 = new Conv2d(3, 8, 7).stride(2).padding(3).bias(false);
  final BatchNorm2d bn1 = new BatchNorm2d(8);
  final ReLU relu = new ReLU();
  final MaxPool2d maxpool = new MaxPool2d(3).stride(2).padding(1);
  // _make_layer(block, planes, blocks, stride): the first block downsamples where stride != 1 or the width changes
  final Sequential layer1 = Sequential.of(new BasicBlock(8, 8, 1), new BasicBlock(8, 8, 1));
  final Sequential layer2 = Sequential.of(new DownsampleBlock(8, 16, 2));
  final Sequential layer3 = Sequential.of(new DownsampleBlock(16, 32, 2));
  final Sequential layer4 = Sequential.of(new DownsampleBlock(32, 64, 2));
  final AdaptiveAvgPool2d avgpool = new AdaptiveAvgPool2d(1, 1);
  final Linear fc = new Linear(64 * EXPANSION, 10);

  public ZooResNet() {
    for (Module m : modules()) {
      if (m instanceof Conv2d c) {
        Init.kaimingNormal(c.weight(), 0, Init.FanMode.FAN_OUT, Init.Nonlinearity.RELU);
      } else if (m instanceof BatchNorm2d bn) {
        Init.constant(bn.weight(), 1);
        Init.constant(bn.bias(), 0);
      }
    }
    // zero_init_residual: each residual branch starts as zero, each block as the identity
    for (Module m : modules()) {
      if (m instanceof BasicBlock b) {
        Init.constant(b.bn2.weight(), 0);
      }
    }
  }

  @Override
  public Tensor forward(Tensor x) {
    x = conv1.apply(x);
    x = bn1.apply(x);
    x = relu.apply(x);
    x = maxpool.apply(x);

    x = layer1.apply(x);
    x = layer2.apply(x);
    x = layer3.apply(x);
    x = layer4.apply(x);

    x = avgpool.apply(x);
    x = flatten(x, 1, -1);
    x = fc.apply(x);
    return x;
  }
}
