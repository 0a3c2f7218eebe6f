package dev.kiln.samples;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.kiln.dsl.Linear;
import dev.kiln.dsl.Module;
import dev.kiln.runtime.Kiln;
import dev.kiln.runtime.Tensor;
import java.io.IOException;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The tutorial ports of the samples: regression, intermediate outputs, save/load, the CIFAR-10 network. */
class SampleCommandsTest {
  @Test
  void regressionLearnsToAddTwoNumbers() {
    Kiln.manualSeed(0);
    Module net = new Linear(2, 1);
    RegressionCommand.train(net, 2000, 0.01);
    float[] predicted = RegressionCommand.predict(net).toFloatArray();
    float[] expected = {17, 21, 4};
    for (int i = 0; i < expected.length; i++) {
      assertEquals(expected[i], predicted[i], 0.1, "prediction " + i);
    }
  }

  @Test
  void intermediateReturnsOutputAndHiddenActivation() {
    var net = new IntermediateCommand.HiddenNet();
    var out = net.forwardWithHidden(RegressionCommand.matrix(RegressionCommand.X));
    assertArrayEquals(new int[] {4, 1}, out.output().shape());
    assertArrayEquals(new int[] {4, 8}, out.hidden().shape());
    for (float v : out.hidden().toFloatArray()) {
      assertEquals(Math.max(v, 0), v); // after the ReLU
    }
  }

  @Test
  void saveAndLoadGiveIdenticalOutputs(@TempDir Path dir) throws IOException {
    assertEquals(0f, SaveLoadCommand.roundTrip(dir.resolve("mlp.safetensors"), 1));
  }

  @Test
  void cifar10NetworkMapsImagesToTenScores() {
    Module net = Models.cifar10();
    try (var g = Kiln.noGrad()) {
      assertArrayEquals(new int[] {2, 10}, net.apply(Tensor.randn(2, 3, 32, 32)).shape());
    }
    assertArrayEquals(new int[] {-1, 10}, net.outputShape(new int[] {-1, 3, 32, 32}));
  }

  @Test
  void cifar10NetworkSummary() {
    assertEquals("""
----------------------------------------------------------------
        Layer (type)               Output Shape         Param #
================================================================
            Conv2d-1           [-1, 32, 32, 32]           2,432
         MaxPool2d-2           [-1, 32, 16, 16]               0
            Conv2d-3           [-1, 32, 16, 16]          25,632
         MaxPool2d-4             [-1, 32, 8, 8]               0
            Conv2d-5             [-1, 64, 8, 8]          51,264
         MaxPool2d-6             [-1, 64, 4, 4]               0
           Flatten-7                 [-1, 1024]               0
            Linear-8                   [-1, 64]          65,600
            Linear-9                   [-1, 10]             650
================================================================
Total params: 145,578
Trainable params: 145,578
Non-trainable params: 0
----------------------------------------------------------------
Input size (MB): 0.01
Forward/backward pass size (MB): 0.44
Params size (MB): 0.56
Estimated Total Size (MB): 1.01
----------------------------------------------------------------""", Models.cifar10().summary(3, 32, 32));
  }
}
