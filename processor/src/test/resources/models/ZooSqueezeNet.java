package test;

import static dev.kiln.dsl.F.flatten;

import dev.kiln.dsl.AdaptiveAvgPool2d;
import dev.kiln.dsl.Conv2d;
import dev.kiln.dsl.Dropout;
import dev.kiln.dsl.Init;
import dev.kiln.dsl.MaxPool2d;
import dev.kiln.dsl.Model;
import dev.kiln.dsl.Module;
import dev.kiln.dsl.ReLU;
import dev.kiln.dsl.Sequential;
import dev.kiln.runtime.Tensor;
import java.util.List;

/**
 * pytorch/vision {@code torchvision/models/squeezenet.py}'s SqueezeNet 1.1 at an eighth of its channels on 32x32 images,
 * ten classes: Fire modules (a 1x1 squeeze, then the concatenation of a 1x1 and a 3x3 expand), max pools with {@code
 * ceil_mode=True}, and a classifier of dropout, a 1x1 convolution, ReLU and adaptive average pooling; its init (kaiming
 * uniform, the final convolution N(0, 0.01), biases zero).
 */
@Model(input = {3, 32, 32})
public class ZooSqueezeNet extends Module {
  static final int NUM_CLASSES = 10;

  static class Fire extends Module {
    final Conv2d squeeze;
    final ReLU squeezeActivation = new ReLU();
    final Conv2d expand1x1;
    final ReLU expand1x1Activation = new ReLU();
    final Conv2d expand3x3;
    final ReLU expand3x3Activation = new ReLU();

    Fire(int inplanes, int squeezePlanes, int expand1x1Planes, int expand3x3Planes) {
      squeeze = new Conv2d(inplanes, squeezePlanes, 1);
      expand1x1 = new Conv2d(squeezePlanes, expand1x1Planes, 1);
      expand3x3 = new Conv2d(squeezePlanes, expand3x3Planes, 3).padding(1);
    }

    @Override
    public Tensor forward(Tensor x) {
      x = squeezeActivation.apply(squeeze.apply(x));
      return Tensor.cat(List.of(expand1x1Activation.apply(expand1x1.apply(x)), expand3x3Activation.apply(expand3x3.apply(x))), 1);
    }
  }

  final Sequential features = Sequential.of(
      new Conv2d(3, 8, 3).stride(2),
      new ReLU(),
      new MaxPool2d(3).stride(2).ceilMode(true),
      new Fire(8, 2, 8, 8),
      new Fire(16, 2, 8, 8),
      new MaxPool2d(3).stride(2).ceilMode(true),
      new Fire(16, 4, 16, 16),
      new Fire(32, 4, 16, 16),
      new MaxPool2d(3).stride(2).ceilMode(true),
      new Fire(32, 6, 24, 24),
      new Fire(48, 6, 24, 24),
      new Fire(48, 8, 32, 32),
      new Fire(64, 8, 32, 32));
  // Final convolution is initialized differently from the rest
  final Sequential classifier = Sequential.of(
      new Dropout(0.5), new Conv2d(64, NUM_CLASSES, 1), new ReLU(), new AdaptiveAvgPool2d(1, 1));

  public ZooSqueezeNet() {
    Conv2d finalConv = classifier.get(1);
    for (Module m : modules()) {
      if (m instanceof Conv2d c) {
        if (c == finalConv) {
          Init.normal(c.weight(), 0.0, 0.01);
        } else {
          Init.kaimingUniform(c.weight());
        }
        Init.zeros(c.bias());
      }
    }
  }

  @Override
  public Tensor forward(Tensor x) {
    x = features.apply(x);
    x = classifier.apply(x);
    return flatten(x, 1, -1);
  }
}
