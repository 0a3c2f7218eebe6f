package dev.kiln.dsl;

import static dev.kiln.dsl.CudaRecurrentTest.GPU;
import static dev.kiln.dsl.CudaRecurrentTest.close;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kiln.runtime.Device;
import dev.kiln.runtime.Kiln;
import dev.kiln.runtime.Tensor;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * A Sequential under no grad on CUDA, where no output is given back (device memory goes to the CUDA allocator when its
 * storage is collected): the outputs of several calls agree with the CPU's, which does give its maps back, and the
 * earlier outputs and the input keep their values. Needs a GPU: tagged cuda.
 */
@Tag("cuda")
class CudaIntermediateReuseTest {
  @Test
  void aSequentialUnderNoGradOnTheDeviceAsOnTheCpu() {
    Kiln.manualSeed(10);
    Sequential cpu = Sequential.of(new Conv2d(16, 16, 3).padding(1).groups(16), new BatchNorm2d(16), new ReLU(),
        new Conv2d(16, 32, 1), new ReLU(), new Flatten(), new Linear(32 * 16 * 16, 10));
    Sequential gpu = Sequential.of(new Conv2d(16, 16, 3).padding(1).groups(16), new BatchNorm2d(16), new ReLU(),
        new Conv2d(16, 32, 1), new ReLU(), new Flatten(), new Linear(32 * 16 * 16, 10));
    gpu.loadStateDict(cpu.stateDict());
    cpu.eval();
    gpu.eval().to(GPU);
    Tensor x1 = Tensor.randn(8, 16, 16, 16);
    Tensor x2 = Tensor.randn(8, 16, 16, 16);
    Tensor g1 = x1.to(GPU);
    try (var g = Kiln.noGrad()) {
      Tensor c1 = cpu.forward(x1);
      Tensor o1 = gpu.forward(g1);
      Tensor c2 = cpu.forward(x2);
      Tensor o2 = gpu.forward(x2.to(GPU));
      assertTrue(o1.device().isCuda(), "output on " + o1.device());
      close("first call", c1, o1);
      close("second call", c2, o2);
      assertArrayEquals(x1.toFloatArray(), g1.to(Device.cpu()).toFloatArray(), "the input");
    }
  }
}
