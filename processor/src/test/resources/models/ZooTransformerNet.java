package test;

import static dev.kiln.dsl.F.interpolate;

import dev.kiln.dsl.Conv2d;
import dev.kiln.dsl.InstanceNorm2d;
import dev.kiln.dsl.Model;
import dev.kiln.dsl.Module;
import dev.kiln.dsl.ReLU;
import dev.kiln.dsl.ReflectionPad2d;
import dev.kiln.runtime.Tensor;

/**
 * pytorch/examples {@code fast_neural_style/neural_style/transformer_net.py}'s TransformerNet at an eighth of its
 * channels on 16x16 images: reflection-padded convolutions, affine instance norms, five residual blocks, and two
 * upsampling convolutions that interpolate (nearest) inside their forward.
 */
@Model(input = {3, 16, 16})
public class ZooTransformerNet extends Module {
  static class ConvLayer extends Module {
    final ReflectionPad2d reflectionPad;
    final Conv2d conv2d;

    ConvLayer(int inChannels, int outChannels, int kernelSize, int stride) {
      int reflectionPadding = kernelSize / 2;
      reflectionPad = new ReflectionPad2d(reflectionPadding);
      conv2d = new Conv2d(inChannels, outChannels, kernelSize).stride(stride);
    }

    @Override
    public Tensor forward(Tensor x) {
      Tensor out = reflectionPad.apply(x);
      out = conv2d.apply(out);
      return out;
    }
  }

  static class ResidualBlock extends Module {
    final ConvLayer conv1;
    final InstanceNorm2d in1;
    final ConvLayer conv2;
    final InstanceNorm2d in2;
    final ReLU relu = new ReLU();

    ResidualBlock(int channels) {
      conv1 = new ConvLayer(channels, channels, 3, 1);
      in1 = new InstanceNorm2d(channels, 1e-5, true);
      conv2 = new ConvLayer(channels, channels, 3, 1);
      in2 = new InstanceNorm2d(channels, 1e-5, true);
    }

    @Override
    public Tensor forward(Tensor x) {
      Tensor residual = x;
      Tensor out = relu.apply(in1.apply(conv1.apply(x)));
      out = in2.apply(conv2.apply(out));
      out = out.add(residual);
      return out;
    }
  }

  static class UpsampleConvLayer extends Module {
    final int upsample;
    final ReflectionPad2d reflectionPad;
    final Conv2d conv2d;

    UpsampleConvLayer(int inChannels, int outChannels, int kernelSize, int stride, int upsample) {
      this.upsample = upsample;
      int reflectionPadding = kernelSize / 2;
      reflectionPad = new ReflectionPad2d(reflectionPadding);
      conv2d = new Conv2d(inChannels, outChannels, kernelSize).stride(stride);
    }

    @Override
    public Tensor forward(Tensor x) {
      Tensor xIn = x;
      if (upsample != 0) {
        xIn = interpolate(xIn, upsample);
      }
      Tensor out = reflectionPad.apply(xIn);
      out = conv2d.apply(out);
      return out;
    }
  }

  // Initial convolution layers
  final ConvLayer conv1 = new ConvLayer(3, 4, 9, 1);
  final InstanceNorm2d in1 = new InstanceNorm2d(4, 1e-5, true);
  final ConvLayer conv2 = new ConvLayer(4, 8, 3, 2);
  final InstanceNorm2d in2 = new InstanceNorm2d(8, 1e-5, true);
  final ConvLayer conv3 = new ConvLayer(8, 16, 3, 2);
  final InstanceNorm2d in3 = new InstanceNorm2d(16, 1e-5, true);
  // Residual layers
  final ResidualBlock res1 = new ResidualBlock(16);
  final ResidualBlock res2 = new ResidualBlock(16);
  final ResidualBlock res3 = new ResidualBlock(16);
  final ResidualBlock res4 = new ResidualBlock(16);
  final ResidualBlock res5 = new ResidualBlock(16);
  // Upsampling Layers
  final UpsampleConvLayer deconv1 = new UpsampleConvLayer(16, 8, 3, 1, 2);
  final InstanceNorm2d in4 = new InstanceNorm2d(8, 1e-5, true);
  final UpsampleConvLayer deconv2 = new UpsampleConvLayer(8, 4, 3, 1, 2);
  final InstanceNorm2d in5 = new InstanceNorm2d(4, 1e-5, true);
  final ConvLayer deconv3 = new ConvLayer(4, 3, 9, 1);
  // Non-linearities
  final ReLU relu = new ReLU();

  @Override
  public Tensor forward(Tensor x) {
    Tensor y = relu.apply(in1.apply(conv1.apply(x)));
    y = relu.apply(in2.apply(conv2.apply(y)));
    y = relu.apply(in3.apply(conv3.apply(y)));
    y = res1.apply(y);
    y = res2.apply(y);
    y = res3.apply(y);
    y = res4.apply(y);
    y = res5.apply(y);
    y = relu.apply(in4.apply(deconv1.apply(y)));
    y = relu.apply(in5.apply(deconv2.apply(y)));
    y = deconv3.apply(y);
    return y;
  }
}
