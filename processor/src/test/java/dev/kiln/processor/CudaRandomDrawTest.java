package dev.kiln.processor;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kiln.dsl.MSELoss;
import dev.kiln.dsl.Module;
import dev.kiln.runtime.Device;
import dev.kiln.runtime.Kiln;
import dev.kiln.runtime.Tensor;
import java.util.Map;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * Random draws in a compiled forward on CUDA ({@code forwardCuda}): {@code Tensor.randnLike(std)} is eager's call on the
 * tape, drawn from Kiln's generator on the host and copied to the device, so its values are the CPU's bit for bit; with
 * dropout drawing in the same forward, the generator ends where eager's on the CPU does, and the output and gradients are
 * eager's within 1e-5. Needs a GPU: tagged cuda.
 */
@Tag("cuda")
class CudaRandomDrawTest {
  @Test
  void drawsOnCudaAreTheCpusDraws() {
    Module[] twins = RandomDrawTest.twins();
    Module eager = twins[0], compiled = twins[1].to(Device.cuda());
    Kiln.manualSeed(40);
    float[] xv = Tensor.randn(4, 6).toFloatArray(), yv = Tensor.randn(4, 6).toFloatArray();
    Tensor xe = Tensor.of(xv, 4, 6).requiresGrad(true);
    Tensor xc = Tensor.of(xv, 4, 6).to(Device.cuda()).requiresGrad(true);
    Kiln.manualSeed(70);
    Tensor outE = eager.forward(xe);
    long stateE = Kiln.generator().state();
    Kiln.manualSeed(70);
    Tensor outC = compiled.forward(xc);
    assertEquals(stateE, Kiln.generator().state(), "the generator after forward");
    assertTrue(outC.device().isCuda(), "output on " + outC.device());
    ParityTest.assertClose("output", outC.toFloatArray(), outE.toFloatArray(), 1e-5);
    new MSELoss().apply(outE, Tensor.of(yv, 4, 6)).backward();
    new MSELoss().apply(outC, Tensor.of(yv, 4, 6).to(Device.cuda())).backward();
    ParityTest.assertClose("input gradient", xc.grad().toFloatArray(), xe.grad().toFloatArray(), 1e-5);
    Map<String, Tensor> cp = compiled.namedParameters();
    eager.namedParameters().forEach((k, v) -> ParityTest.assertClose(k + " gradient", cp.get(k).grad().toFloatArray(),
        v.grad().toFloatArray(), 1e-5));

    Kiln.manualSeed(12);
    Tensor noise = Tensor.randnLike(Tensor.zeros(3, 5).to(Device.cuda()));
    Kiln.manualSeed(12);
    assertArrayEquals(Tensor.randn(3, 5).toFloatArray(), noise.toFloatArray(), "Tensor.randnLike of a CUDA tensor: the CPU's draws");
  }
}
