package test;

import dev.kiln.dsl.BatchNorm2d;
import dev.kiln.dsl.Conv2d;
import dev.kiln.dsl.Linear;
import dev.kiln.dsl.MaxPool2d;
import dev.kiln.dsl.Model;
import dev.kiln.dsl.Module;
import dev.kiln.dsl.ReLU;
import dev.kiln.dsl.Sequential;
import dev.kiln.runtime.Tensor;
import java.util.List;

/**
 * pytorch/vision {@code torchvision/models/shufflenetv2.py}'s ShuffleNetV2 with stages_repeats [2, 1, 1] and
 * stages_out_channels [8, 16, 32, 64, 128] on 32x32 images, ten classes: channel_shuffle (view, transpose, view), the
 * stride-1 unit's chunk of the input into the passed-through half and the branch's half, the stride-2 unit's two
 * branches, depthwise convolutions, and the global mean over the map.
 */
@Model(input = {3, 32, 32})
public class ZooShuffleNetV2 extends Module {
  /** channel_shuffle(x, groups). */
  static Tensor channelShuffle(Tensor x, int groups) {
    int batchsize = x.size(0), numChannels = x.size(1), height = x.size(2), width = x.size(3);
    int channelsPerGroup = numChannels / groups;
    // reshape
    x = x.view(batchsize, groups, channelsPerGroup, height, width);
    x = x.transpose(1, 2); // a copy in Kiln: PyTorch's .contiguous() is not needed
    // flatten
    x = x.view(batchsize, -1, height, width);
    return x;
  }

  /** depthwise_conv(i, o, kernel_size, stride, padding, bias=False). */
  static Conv2d depthwiseConv(int i, int o, int kernelSize, int stride, int padding) {
    return new Conv2d(i, o, kernelSize).stride(stride).padding(padding).groups(i).bias(false);
  }

  /** The stride-1 unit: half the channels pass, the other half go through branch2. */
  static class InvertedResidual extends Module {
    final Sequential branch2;

    InvertedResidual(int inp, int oup) {
      int branchFeatures = oup / 2;
      branch2 = Sequential.of(
          new Conv2d(branchFeatures, branchFeatures, 1).stride(1).padding(0).bias(false),
          new BatchNorm2d(branchFeatures),
          new ReLU(),
          depthwiseConv(branchFeatures, branchFeatures, 3, 1, 1),
          new BatchNorm2d(branchFeatures),
          new Conv2d(branchFeatures, branchFeatures, 1).stride(1).padding(0).bias(false),
          new BatchNorm2d(branchFeatures),
          new ReLU());
    }

    @Override
    public Tensor forward(Tensor x) {
      Tensor[] halves = x.chunk(2, 1);
      Tensor x1 = halves[0], x2 = halves[1];
      Tensor out = Tensor.cat(List.of(x1, branch2.apply(x2)), 1);
      out = channelShuffle(out, 2);
      return out;
    }
  }

  /** The stride-2 unit: both branches read the whole input, each gives half the output's channels. */
  static class DownsamplingResidual extends Module {
    final Sequential branch1;
    final Sequential branch2;

    DownsamplingResidual(int inp, int oup, int stride) {
      int branchFeatures = oup / 2;
      branch1 = Sequential.of(
          depthwiseConv(inp, inp, 3, stride, 1),
          new BatchNorm2d(inp),
          new Conv2d(inp, branchFeatures, 1).stride(1).padding(0).bias(false),
          new BatchNorm2d(branchFeatures),
          new ReLU());
      branch2 = Sequential.of(
          new Conv2d(inp, branchFeatures, 1).stride(1).padding(0).bias(false),
          new BatchNorm2d(branchFeatures),
          new ReLU(),
          depthwiseConv(branchFeatures, branchFeatures, 3, stride, 1),
          new BatchNorm2d(branchFeatures),
          new Conv2d(branchFeatures, branchFeatures, 1).stride(1).padding(0).bias(false),
          new BatchNorm2d(branchFeatures),
          new ReLU());
    }

    @Override
    public Tensor forward(Tensor x) {
      Tensor out = Tensor.cat(List.of(branch1.apply(x), branch2.apply(x)), 1);
      out = channelShuffle(out, 2);
      return out;
    }
  }

  final Sequential conv1 = Sequential.of(
      new Conv2d(3, 8, 3).stride(2).padding(1).bias(false), new BatchNorm2d(8), new ReLU());
  final MaxPool2d maxpool = new MaxPool2d(3).stride(2).padding(1);
  // stage2..4: [InvertedResidual(input, output, 2)] + [InvertedResidual(output, output, 1)] * (repeats - 1)
  final Sequential stage2 = Sequential.of(new DownsamplingResidual(8, 16, 2), new InvertedResidual(16, 16));
  final Sequential stage3 = Sequential.of(new DownsamplingResidual(16, 32, 2));
  final Sequential stage4 = Sequential.of(new DownsamplingResidual(32, 64, 2));
  final Sequential conv5 = Sequential.of(
      new Conv2d(64, 128, 1).stride(1).padding(0).bias(false), new BatchNorm2d(128), new ReLU());
  final Linear fc = new Linear(128, 10);

  @Override
  public Tensor forward(Tensor x) {
    x = conv1.apply(x);
    x = maxpool.apply(x);
    x = stage2.apply(x);
    x = stage3.apply(x);
    x = stage4.apply(x);
    x = conv5.apply(x);
    x = x.mean(new int[] {2, 3}); // globalpool
    x = fc.apply(x);
    return x;
  }
}
