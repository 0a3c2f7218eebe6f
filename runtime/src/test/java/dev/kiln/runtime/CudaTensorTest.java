package dev.kiln.runtime;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kiln.runtime.cuda.Cuda;
import dev.kiln.runtime.optim.ASGD;
import dev.kiln.runtime.optim.Adadelta;
import dev.kiln.runtime.optim.Adagrad;
import dev.kiln.runtime.optim.Adam;
import dev.kiln.runtime.optim.AdamW;
import dev.kiln.runtime.optim.Adamax;
import dev.kiln.runtime.optim.NAdam;
import dev.kiln.runtime.optim.Optimizer;
import dev.kiln.runtime.optim.RAdam;
import dev.kiln.runtime.optim.RMSprop;
import dev.kiln.runtime.optim.Rprop;
import dev.kiln.runtime.optim.SGD;
import java.util.List;
import java.util.function.Function;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * Tensors on the GPU: copies both ways, gradients through {@code to}, in-place moves, the
 * autograd engine's sums on the device, and the optimizers' device steps against their CPU steps.
 * Needs a GPU: tagged cuda (docs/cuda.md says how to run these).
 */
@Tag("cuda")
class CudaTensorTest {
  private static final Device GPU = Device.cuda();

  static float relativeError(float[] actual, float[] expected) {
    double diff = 0, norm = 0;
    for (int i = 0; i < expected.length; i++) {
      diff += (actual[i] - expected[i]) * (double) (actual[i] - expected[i]);
      norm += expected[i] * (double) expected[i];
    }
    return (float) Math.sqrt(diff / Math.max(norm, 1e-30));
  }

  @Test
  void copiesBothWaysExactly() {
    Kiln.manualSeed(1);
    Tensor x = Tensor.randn(3, 5, 7);
    Tensor d = x.to(GPU);
    assertSame(GPU, d.device());
    assertArrayEquals(x.shape(), d.shape());
    assertArrayEquals(x.toFloatArray(), d.toFloatArray(), "download of an upload");
    Tensor back = d.to(Device.cpu());
    assertSame(Device.cpu(), back.device());
    assertArrayEquals(x.toFloatArray(), back.toFloatArray());
    assertSame(d, d.to(GPU), "to(the same device) is the tensor itself");
    Tensor view = x.reshape(15, 7).to(GPU);
    assertArrayEquals(x.toFloatArray(), view.toFloatArray());
  }

  /**
   * Class indices moved to the GPU keep a current host copy (cross-entropy checks them on the host
   * every step: no download, no wait for the stream); float tensors do not (a batch of images would
   * double its memory), and read back from the device.
   */
  @Test
  void classIndicesKeepTheirHostCopyOnTheDevice() {
    Tensor labels = Tensor.labels(3, 1, 4).to(GPU);
    Tensor images = Tensor.of(new float[] {3, 1, 4}, 3).to(GPU);
    Tensor nines = Tensor.of(new float[] {9, 9, 9}, 3).to(GPU);
    // written behind the storages' backs: only a download would see these values
    Cuda.get().copy(nines.readCuda(), labels.readCuda(), 3);
    Cuda.get().copy(nines.readCuda(), images.readCuda(), 3);
    assertArrayEquals(new float[] {3, 1, 4}, java.util.Arrays.copyOfRange(labels.readBuffer(), labels.offset(), labels.offset() + 3),
        "class indices are read from their host copy");
    assertArrayEquals(new float[] {9, 9, 9}, images.toFloatArray(), "a float tensor is read from the device");
  }

  @Test
  void hostWritesReachTheDeviceAndBack() {
    Tensor d = Tensor.zeros(GPU, 4);
    assertArrayEquals(new float[4], d.toFloatArray());
    d.buffer()[2] = 5f; // a host write: uploaded before the next device read
    Tensor e = Tensor.empty(GPU, 4);
    Cuda.get().copy(d.readCuda(), e.writeCuda(), 4);
    assertArrayEquals(new float[] {0, 0, 5, 0}, e.toFloatArray());
    e.zero();
    assertArrayEquals(new float[4], e.toFloatArray());
  }

  @Test
  void gradientFlowsBackThroughTo() {
    Tensor x = Tensor.of(new float[] {1, 2, 3}).requiresGrad(true);
    Tensor d = x.to(GPU);
    assertTrue(d.requiresGrad());
    d.backward(Tensor.of(new float[] {0.5f, -1f, 2f}).to(GPU));
    assertSame(Device.cpu(), x.grad().device());
    assertArrayEquals(new float[] {0.5f, -1f, 2f}, x.grad().toFloatArray());
  }

  @Test
  void moveToKeepsTheTensorObjectAndItsGradient() {
    Tensor p = Tensor.of(new float[] {1, 2}).requiresGrad(true);
    p.setGrad(Tensor.of(new float[] {3, 4}));
    p.moveTo(GPU);
    assertSame(GPU, p.device());
    assertSame(GPU, p.grad().device());
    assertArrayEquals(new float[] {1, 2}, p.toFloatArray());
    assertArrayEquals(new float[] {3, 4}, p.grad().toFloatArray());
    p.moveTo(Device.cpu());
    assertSame(Device.cpu(), p.device());
    assertArrayEquals(new float[] {1, 2}, p.toFloatArray());
  }

  @Test
  void deviceAllocatorReusesFreedBlocks() {
    var memory = Cuda.get().memory();
    var a = Cuda.get().allocate(1000);
    long address = a.address();
    a.release();
    var b = Cuda.get().allocate(900); // the same 4 KiB size class
    assertEquals(address, b.address(), "a released block of the class is handed out again");
    b.release();
    assertTrue(memory.cachedBytes() >= 4096);
  }

  @Test
  void gradientClippingOnTheDeviceAsOnTheCpu() {
    Kiln.manualSeed(8);
    Tensor g = Tensor.randn(3, 100);
    Tensor onCpu = Tensor.zeros(3, 100).requiresGrad(true);
    onCpu.setGrad(Tensor.of(g.toFloatArray(), 3, 100));
    Tensor onGpu = Tensor.zeros(GPU, 3, 100).requiresGrad(true);
    onGpu.setGrad(g.to(GPU));
    double cpuNorm = dev.kiln.runtime.optim.ClipGrad.norm(List.of(onCpu), 2.0);
    double gpuNorm = dev.kiln.runtime.optim.ClipGrad.norm(List.of(onGpu), 2.0);
    assertEquals(cpuNorm, gpuNorm, 1e-4 * cpuNorm);
    assertTrue(relativeError(onGpu.grad().toFloatArray(), onCpu.grad().toFloatArray()) < 1e-5);
  }

  @Test
  void memoryStatisticsFollowTensorsAndEmptyCacheFreesTheCache() {
    GPU.emptyCache();
    GPU.resetPeakMemoryStats();
    long before = GPU.memoryAllocated();
    Tensor big = Tensor.zeros(GPU, 1 << 20); // 4 MiB: exactly a 2 MiB multiple
    assertEquals(before + (4L << 20), GPU.memoryAllocated());
    assertTrue(GPU.maxMemoryAllocated() >= before + (4L << 20));
    assertTrue(GPU.memoryReserved() >= GPU.memoryAllocated());
    big = null;
    GPU.emptyCache(); // collects the unreachable tensor, then frees the cache
    // at most `before`: other tests' garbage counted in `before` may be collected here too (it was, once)
    long after = GPU.memoryAllocated();
    assertTrue(after <= before, "the 4 MiB tensor freed: " + after + " bytes allocated, " + before + " before it");
    assertEquals(after, GPU.memoryReserved(), "nothing cached after emptyCache");
    GPU.resetPeakMemoryStats();
    assertEquals(after, GPU.maxMemoryAllocated());
  }

  @Test
  void inPlaceUpdatesOnTheDevice() {
    Tensor m = Tensor.zeros(2, 3).to(GPU);
    m.addInPlace(Tensor.of(new float[] {1, 2, 3}).to(GPU), 2f).mulInPlace(0.5f);
    assertArrayEquals(new float[] {1, 2, 3, 1, 2, 3}, m.toFloatArray());
    m.copyFrom(Tensor.of(new float[] {7, 8}, 2, 1)); // from the host, broadcast
    assertArrayEquals(new float[] {7, 7, 7, 8, 8, 8}, m.toFloatArray());
    m.subInPlace(Tensor.ones(2, 3).to(GPU)).fill(-1f);
    assertArrayEquals(new float[] {-1, -1, -1, -1, -1, -1}, m.toFloatArray());
    assertTrue(m.device().isCuda());
    Tensor w = Tensor.zeros(3).to(GPU).requiresGrad(true);
    w.setGrad(Tensor.of(new float[] {-2f, 0.1f, 3f}).to(GPU));
    dev.kiln.runtime.optim.ClipGrad.value(List.of(w), 0.5);
    assertArrayEquals(new float[] {-0.5f, 0.1f, 0.5f}, w.grad().toFloatArray());
    assertTrue(w.grad().device().isCuda());
  }

  @Test
  void optimizersStepOnTheDeviceAsOnTheCpu() {
    List<Function<List<Tensor>, Optimizer>> makers = List.of(
        ps -> new SGD(ps, 0.1),
        ps -> new SGD(ps, 0.1).momentum(0.9).weightDecay(0.01),
        ps -> new SGD(ps, 0.05).momentum(0.9).nesterov(true),
        ps -> new SGD(ps, 0.05).momentum(0.8).dampening(0.1),
        ps -> new Adam(ps, 0.01),
        ps -> new Adam(ps, 0.01).weightDecay(0.1).amsgrad(true),
        ps -> new AdamW(ps, 0.01),
        ps -> new RMSprop(ps, 0.01),
        ps -> new RMSprop(ps, 0.01).momentum(0.9).centered(true).weightDecay(0.01),
        ps -> new Adagrad(ps, 0.1).lrDecay(0.1).initialAccumulatorValue(0.1).weightDecay(0.01),
        ps -> new Adadelta(ps, 1.0).weightDecay(0.01),
        ps -> new Adamax(ps, 0.01).betas(0.8, 0.99).weightDecay(0.01),
        ps -> new NAdam(ps, 0.01).momentumDecay(0.01).weightDecay(0.01),
        ps -> new RAdam(ps, 0.01).betas(0.9, 0.9).weightDecay(0.01), // rho_t > 5 from step 6: both branches
        ps -> new Rprop(ps, 0.01).etas(0.4, 1.3).stepSizes(1e-4, 0.05),
        ps -> new ASGD(ps, 0.01).lambd(0.05).t0(3).weightDecay(0.01), // mu = 1 to step 4, then averaging
        ps -> { // a group's own momentum, as OneCycleLR sets it
          SGD o = new SGD(ps, 0.1).momentum(0.9);
          o.paramGroups().get(0).momentum(0.5);
          return o;
        });
    // 41 parameters in two groups, the first over two launches' tables (32 each), sizes from 1 value to several blocks (2048 values each)
    int[] sizes = new int[41];
    for (int i = 0; i < sizes.length; i++) {
      sizes[i] = i == 0 ? 1 : i == 1 ? 4097 : i == 2 ? 37 * 11 : 1 + (i * 131) % 700;
    }
    for (int which = 0; which < makers.size(); which++) {
      Kiln.manualSeed(7);
      List<Tensor> cpu = new java.util.ArrayList<>();
      List<Tensor> gpu = new java.util.ArrayList<>();
      for (int size : sizes) {
        Tensor c = Tensor.randn(size).requiresGrad(true);
        Tensor g = Tensor.of(c.toFloatArray(), size).requiresGrad(true);
        g.moveTo(GPU);
        cpu.add(c);
        gpu.add(g);
      }
      // the last 6 in a group of their own rate and weight decay (a launch of their own)
      Optimizer oc = makers.get(which).apply(cpu.subList(0, 35));
      oc.addParamGroup(cpu.subList(35, sizes.length), 0.02).weightDecay(0.05);
      Optimizer og = makers.get(which).apply(gpu.subList(0, 35));
      og.addParamGroup(gpu.subList(35, sizes.length), 0.02).weightDecay(0.05);
      for (int step = 0; step < 7; step++) {
        for (int i = 0; i < sizes.length; i++) {
          Tensor g = Tensor.randn(sizes[i]);
          cpu.get(i).setGrad(g);
          gpu.get(i).setGrad(g.to(GPU));
        }
        oc.step();
        og.step();
      }
      for (int i = 0; i < sizes.length; i++) {
        float err = relativeError(gpu.get(i).toFloatArray(), cpu.get(i).toFloatArray());
        assertTrue(err < 1e-5f, "optimizer " + which + " (" + og.getClass().getSimpleName() + "), parameter " + i + " of "
            + sizes[i] + " values: CUDA vs CPU differ, relative error " + err);
      }
    }
  }
}
