package test;

import dev.kiln.dsl.Conv2d;
import dev.kiln.dsl.Init;
import dev.kiln.dsl.Model;
import dev.kiln.dsl.Module;
import dev.kiln.dsl.PixelShuffle;
import dev.kiln.dsl.ReLU;
import dev.kiln.runtime.Tensor;

/**
 * pytorch/examples {@code super_resolution/model.py}'s Net (ESPCN) at a quarter of its channels, upscale factor 3:
 * four convolutions with orthogonal initialisation, then a pixel shuffle.
 */
@Model(input = {1, 8, 8})
public class ZooSuperResolution extends Module {
  static final int UPSCALE_FACTOR = 3;

  final ReLU relu = new ReLU();
  final Conv2d conv1 = new Conv2d(1, 16, 5, 5).stride(1, 1).padding(2, 2);
  final Conv2d conv2 = new Conv2d(16, 16, 3, 3).stride(1, 1).padding(1, 1);
  final Conv2d conv3 = new Conv2d(16, 8, 3, 3).stride(1, 1).padding(1, 1);
  final Conv2d conv4 = new Conv2d(8, UPSCALE_FACTOR * UPSCALE_FACTOR, 3, 3).stride(1, 1).padding(1, 1);
  final PixelShuffle pixelShuffle = new PixelShuffle(UPSCALE_FACTOR);

  public ZooSuperResolution() {
    initializeWeights();
  }

  @Override
  public Tensor forward(Tensor x) {
    x = relu.apply(conv1.apply(x));
    x = relu.apply(conv2.apply(x));
    x = relu.apply(conv3.apply(x));
    x = pixelShuffle.apply(conv4.apply(x));
    return x;
  }

  private void initializeWeights() {
    Init.orthogonal(conv1.weight(), Init.calculateGain(Init.Nonlinearity.RELU));
    Init.orthogonal(conv2.weight(), Init.calculateGain(Init.Nonlinearity.RELU));
    Init.orthogonal(conv3.weight(), Init.calculateGain(Init.Nonlinearity.RELU));
    Init.orthogonal(conv4.weight());
  }
}
