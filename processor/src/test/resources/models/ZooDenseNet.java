package test;

import static dev.kiln.dsl.F.adaptiveAvgPool2d;
import static dev.kiln.dsl.F.flatten;
import static dev.kiln.dsl.F.relu;

import dev.kiln.dsl.AvgPool2d;
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
import java.util.List;

/**
 * pytorch/vision {@code torchvision/models/densenet.py}'s DenseNet with growth rate 4, block config (2, 2), 8 initial
 * features and bn_size 2 on 32x32 images, ten classes: dense layers (batch norm, ReLU, 1x1 bottleneck, batch norm, ReLU,
 * 3x3) each reading the concatenation of all earlier features, transitions (batch norm, ReLU, 1x1, average pool), the
 * features Sequential named as torchvision names it (conv0, norm0, relu0, pool0, denseblock1, transition1, ..., norm5).
 */
@Model(input = {3, 32, 32})
public class ZooDenseNet extends Module {
  static final int GROWTH_RATE = 4, NUM_INIT_FEATURES = 8, BN_SIZE = 2;

  static class DenseLayer extends Module {
    final BatchNorm2d norm1;
    final ReLU relu1 = new ReLU();
    final Conv2d conv1;
    final BatchNorm2d norm2;
    final ReLU relu2 = new ReLU();
    final Conv2d conv2;

    DenseLayer(int numInputFeatures, int growthRate, int bnSize) {
      norm1 = new BatchNorm2d(numInputFeatures);
      conv1 = new Conv2d(numInputFeatures, bnSize * growthRate, 1).stride(1).bias(false);
      norm2 = new BatchNorm2d(bnSize * growthRate);
      conv2 = new Conv2d(bnSize * growthRate, growthRate, 3).stride(1).padding(1).bias(false);
    }

    /** bn_function and the rest: the new features from the concatenation of all earlier ones. */
    @Override
    public Tensor forward(Tensor concatedFeatures) {
      Tensor bottleneckOutput = conv1.apply(relu1.apply(norm1.apply(concatedFeatures)));
      return conv2.apply(relu2.apply(norm2.apply(bottleneckOutput)));
    }
  }

  /** _DenseBlock of two layers (a ModuleDict named denselayer1, denselayer2 in torchvision). */
  static class DenseBlock extends Module {
    final DenseLayer denselayer1;
    final DenseLayer denselayer2;

    DenseBlock(int numInputFeatures, int bnSize, int growthRate) {
      denselayer1 = new DenseLayer(numInputFeatures, growthRate, bnSize);
      denselayer2 = new DenseLayer(numInputFeatures + growthRate, growthRate, bnSize);
    }

    @Override
    public Tensor forward(Tensor initFeatures) {
      Tensor features = initFeatures;
      features = Tensor.cat(List.of(features, denselayer1.apply(features)), 1);
      features = Tensor.cat(List.of(features, denselayer2.apply(features)), 1);
      return features;
    }
  }

  /** _Transition (a Sequential subclass in torchvision: norm, relu, conv, pool). */
  static class Transition extends Module {
    final BatchNorm2d norm;
    final ReLU relu = new ReLU();
    final Conv2d conv;
    final AvgPool2d pool = new AvgPool2d(2).stride(2);

    Transition(int numInputFeatures, int numOutputFeatures) {
      norm = new BatchNorm2d(numInputFeatures);
      conv = new Conv2d(numInputFeatures, numOutputFeatures, 1).stride(1).bias(false);
    }

    @Override
    public Tensor forward(Tensor x) {
      return pool.apply(conv.apply(relu.apply(norm.apply(x))));
    }
  }

  // First convolution, then each dense block and (but after the last) a transition halving the features
  final Sequential features = Sequential.builder()
      .add("conv0", new Conv2d(3, NUM_INIT_FEATURES, 7).stride(2).padding(3).bias(false))
      .add("norm0", new BatchNorm2d(NUM_INIT_FEATURES))
      .add("relu0", new ReLU())
      .add("pool0", new MaxPool2d(3).stride(2).padding(1))
      .add("denseblock1", new DenseBlock(NUM_INIT_FEATURES, BN_SIZE, GROWTH_RATE))
      .add("transition1", new Transition(NUM_INIT_FEATURES + 2 * GROWTH_RATE, (NUM_INIT_FEATURES + 2 * GROWTH_RATE) / 2))
      .add("denseblock2", new DenseBlock((NUM_INIT_FEATURES + 2 * GROWTH_RATE) / 2, BN_SIZE, GROWTH_RATE))
      // Final batch norm
      .add("norm5", new BatchNorm2d((NUM_INIT_FEATURES + 2 * GROWTH_RATE) / 2 + 2 * GROWTH_RATE))
      .build();
  // Linear layer
  final Linear classifier = new Linear((NUM_INIT_FEATURES + 2 * GROWTH_RATE) / 2 + 2 * GROWTH_RATE, 10);

  public ZooDenseNet() {
    // Official init from torch repo.
    for (Module m : modules()) {
      if (m instanceof Conv2d c) {
        Init.kaimingNormal(c.weight());
      } else if (m instanceof BatchNorm2d bn) {
        Init.constant(bn.weight(), 1);
        Init.constant(bn.bias(), 0);
      } else if (m instanceof Linear l) {
        Init.constant(l.bias(), 0);
      }
    }
  }

  @Override
  public Tensor forward(Tensor x) {
    Tensor features = this.features.apply(x);
    Tensor out = relu(features);
    out = adaptiveAvgPool2d(out, 1, 1);
    out = flatten(out, 1, -1);
    out = classifier.apply(out);
    return out;
  }
}
