package dev.kiln.processor;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.kiln.dsl.CrossEntropyLoss;
import dev.kiln.runtime.Tensor;
import dev.kiln.runtime.optim.SGD;
import java.util.List;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The classification models of pytorch/vision's {@code torchvision/models} ported as a Java developer would port them
 * (the model zoo's torchvision pass; sources under {@code src/test/resources/models/Zoo*.java}, at small widths on 32x32
 * images, ten classes): each compiles, its compiled twin's loss, input and parameter gradients equal eager mode's
 * (relative norm 1e-5) over three steps of torchvision's reference training optimizer (SGD, lr 0.1, momentum 0.9, weight
 * decay 1e-4) on cross entropy, after which the parameters agree (1e-4); and both agree with PyTorch 1.13's same models on
 * the same weights ({@code zoo_torchvision/make_reference.py}, checked as {@link ZooVisionTest} checks its own).
 */
class ZooTorchvisionTest {
  private static final ZooVisionTest.Reference REFERENCE = ZooVisionTest.Reference.load("/zoo_torchvision/reference.txt");

  /** Training mode (dropout and batch statistics), three SGD steps, eager against compiled. */
  @ParameterizedTest
  @ValueSource(strings = {"ZooResNet", "ZooMobileNetV2", "ZooSqueezeNet", "ZooShuffleNetV2", "ZooDenseNet", "ZooVgg"})
  void trainsAsEager(String model) {
    ZooVisionTest.Pair p = ZooVisionTest.Pair.of(model);
    Tensor y = Tensor.labels(3, 7);
    CrossEntropyLoss criterion = new CrossEntropyLoss();
    ZooVisionTest.trainsAlike(model, p, m -> new SGD(m.parameters(), 0.1).momentum(0.9).weightDecay(1e-4),
        new int[] {2, 3, 32, 32}, (m, x) -> {
          Tensor out = m.forward(x);
          assertEquals(List.of(2, 10), List.of(out.shape()[0], out.shape()[1]), model + "'s logits");
          return criterion.apply(out, y);
        });
  }

  /**
   * Each model, eager and compiled, on the script's weights and input: its loss, logits, and the input's and every
   * parameter's gradient are PyTorch's within 1e-4; the models with dropout run in evaluation mode (their batch norms on
   * the running statistics), the others in training mode.
   */
  @ParameterizedTest
  @CsvSource({
    "ZooResNet, true",
    "ZooMobileNetV2, false",
    "ZooSqueezeNet, false",
    "ZooShuffleNetV2, true",
    "ZooDenseNet, true",
    "ZooVgg, false",
  })
  void agreesWithPyTorch(String model, boolean training) {
    ZooVisionTest.agreesWith(REFERENCE, model, model, "2:3:32:32", false, 0.13, 0.2, 1, 0, training);
  }
}
