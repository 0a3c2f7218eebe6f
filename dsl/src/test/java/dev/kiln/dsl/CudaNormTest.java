package dev.kiln.dsl;

import static dev.kiln.dsl.CudaRecurrentTest.GPU;
import static dev.kiln.dsl.CudaRecurrentTest.close;
import static dev.kiln.dsl.CudaRecurrentTest.parametersAgree;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kiln.dsl.CudaRecurrentTest.Pair;
import dev.kiln.runtime.Kiln;
import dev.kiln.runtime.Tensor;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * InstanceNorm1d and InstanceNorm2d with running statistics on CUDA against the same layers on the CPU: two training
 * steps (outputs, the input's and the affine parameters' gradients, the running statistics updated on the device),
 * then evaluation by the running statistics, to 1e-4 relative norm error. Needs a GPU: tagged cuda.
 */
@Tag("cuda")
class CudaNormTest {
  private static void agree(String what, InstanceNorm<?> cpu, InstanceNorm<?> gpu, int... shape) {
    gpu.loadStateDict(cpu.stateDict());
    gpu.to(GPU);
    for (int step = 0; step < 3; step++) {
      boolean training = step < 2;
      cpu.train(training);
      gpu.train(training);
      Pair x = Pair.of(Tensor.randn(shape).mul(1.5f).add(0.3f));
      Tensor oc = cpu.forward(x.cpu());
      Tensor og = gpu.forward(x.gpu());
      assertTrue(og.device().isCuda(), what + ": output on " + og.device());
      close(what + " output " + step, oc, og);
      Tensor w = Tensor.randn(oc.shape());
      oc.mul(w).sum().backward();
      og.mul(w.to(GPU)).sum().backward();
      close(what + " input gradient " + step, x.cpu().grad(), x.gpu().grad());
      assertTrue(gpu.runningMean().device().isCuda(), what + ": running mean on " + gpu.runningMean().device());
      close(what + " running mean " + step, cpu.runningMean(), gpu.runningMean());
      close(what + " running var " + step, cpu.runningVar(), gpu.runningVar());
    }
    if (cpu.weight() != null) {
      parametersAgree(what, cpu, gpu);
    }
  }

  @Test
  void instanceNormsWithRunningStatsOnTheDeviceAsOnTheCpu() {
    Kiln.manualSeed(15);
    agree("InstanceNorm1d", new InstanceNorm1d(3, 1e-5, 0.2, true, true), new InstanceNorm1d(3, 1e-5, 0.2, true, true), 4, 3, 7);
    agree("InstanceNorm2d", new InstanceNorm2d(2, 1e-5, 0.1, false, true), new InstanceNorm2d(2, 1e-5, 0.1, false, true),
        3, 2, 4, 5);
  }
}
