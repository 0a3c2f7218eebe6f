package dev.kiln.dsl;

import static dev.kiln.dsl.CudaRecurrentTest.GPU;
import static dev.kiln.dsl.CudaRecurrentTest.close;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kiln.runtime.Device;
import dev.kiln.runtime.Intermediates;
import dev.kiln.runtime.Kiln;
import dev.kiln.runtime.Tensor;
import dev.kiln.runtime.cuda.Cuda;
import dev.kiln.runtime.cuda.DeviceMemory;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * Containers under no grad on CUDA give each layer's output's device block back to the CUDA caching allocator once the
 * next layer has read it, as the CPU gives arrays back to its pool ({@link Intermediates}): the outputs of several calls
 * agree with the CPU's, the earlier outputs and the input keep their values, a given-back tensor throws at its next use,
 * and a deep Sequential's peak of device bytes in use is a few maps rather than one per layer. Needs a GPU: tagged cuda.
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
      close("first call, after the second", c1, o1);
      assertArrayEquals(x1.toFloatArray(), g1.to(Device.cpu()).toFloatArray(), "the input");
    }
  }

  /** The tracker itself: an output the next one does not read goes back to the allocator, and throws at its next use. */
  @Test
  void aGivenBackOutputThrowsAndItsBlockIsFree() {
    Kiln.manualSeed(11);
    DeviceMemory memory = Cuda.get().memory();
    Tensor x = Tensor.randn(64, 256).to(GPU);
    try (var g = Kiln.noGrad()) {
      Intermediates run = Intermediates.track(x);
      Tensor a = x.mul(2f);
      run.next(a);
      Tensor b = a.add(1f);
      long before = memory.inUseBytes();
      run.next(b); // a is read by nothing now
      assertEquals(before - 64 * 256 * Float.BYTES, memory.inUseBytes(), "a's block back in the allocator's cache");
      IllegalStateException e = assertThrows(IllegalStateException.class, () -> a.to(Device.cpu()));
      assertTrue(e.getMessage().contains("given back for reuse"), e.getMessage());
      assertThrows(IllegalStateException.class, () -> a.add(1f));
      float[] xs = x.toFloatArray(), bs = b.toFloatArray();
      for (int i = 0; i < xs.length; i++) {
        assertEquals(xs[i] * 2f + 1f, bs[i], "b, read after a went back");
      }
    }
  }

  /**
   * A 16-layer MLP of [256, 512] maps under no grad: the Sequential's peak of device bytes in use above what was in use
   * before is a few maps' (the layer's input, its output, the next one's), where the same layers run by hand, every
   * output kept, need one map per layer; and its result is theirs.
   */
  @Test
  void aDeepSequentialPeaksAtAFewMaps() {
    Kiln.manualSeed(12);
    List<Module> layers = new ArrayList<>();
    for (int i = 0; i < 16; i++) {
      layers.add(new Linear(512, 512));
      layers.add(new ReLU());
    }
    Sequential net = Sequential.of(layers.toArray(new Module[0]));
    net.eval().to(GPU);
    Tensor x = Tensor.randn(256, 512).to(GPU);
    long map = 256L * 512 * Float.BYTES;
    DeviceMemory memory = Cuda.get().memory();
    try (var g = Kiln.noGrad()) {
      net.forward(x); // (a first call's workspaces)
      memory.resetPeak();
      long start = memory.inUseBytes();
      Tensor out = net.forward(x);
      long sequential = memory.peakBytes() - start;
      memory.resetPeak();
      start = memory.inUseBytes();
      List<Tensor> again = new ArrayList<>();
      Tensor h = x;
      for (Module m : net) {
        h = m.apply(h);
        again.add(h);
      }
      long everyMap = memory.peakBytes() - start;
      System.out.printf("16 x (Linear(512, 512), ReLU) on [256, 512] under no grad: peak %.2f MB in use above the start (%d maps)"
          + " in the Sequential, %.2f MB (%d maps) by hand with every output kept%n", sequential / 1e6, sequential / map,
          everyMap / 1e6, everyMap / map);
      assertTrue(sequential <= 3 * map, "the Sequential's peak " + sequential + " bytes, more than 3 maps of " + map);
      assertTrue(everyMap >= 32 * map, "by hand " + everyMap + " bytes");
      close("the Sequential's result", h.to(Device.cpu()), out);
    }
  }
}
