package dev.kiln.processor;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kiln.dsl.Module;
import dev.kiln.runtime.Device;
import dev.kiln.runtime.Kiln;
import dev.kiln.runtime.Tensor;
import java.util.Map;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * The sequence and text zoo ({@link ZooSequenceTest}) compiled and run on CUDA in training (dropout drawn as on the
 * CPU), against eager mode on the CPU: output, loss, a float input's and every parameter's gradient to 1e-4 relative
 * norm. Needs a GPU (or the fake one): tagged cuda.
 */
@Tag("cuda")
class ZooSequenceCudaTest {
  @ParameterizedTest
  @CsvSource({"WordLstm", "WordGru", "WordRnnTanh", "WordTransformer", "TimeSequence", "MnistRnn", "CnnText", "CellSteps", "TimeSequenceCells"})
  void compiledOnCudaMatchesEagerOnTheCpu(String model) {
    Kiln.manualSeed(11);
    Module eager = ZooSequenceTest.create(model);
    Kiln.manualSeed(11);
    Module compiled = ZooSequenceTest.create("Kiln" + model).to(Device.cuda());
    Kiln.manualSeed(3);
    Tensor x = ZooSequenceTest.input(model, 5);
    boolean floats = ZooSequenceTest.floats(model);
    Tensor xe = floats ? Tensor.of(x.toFloatArray(), x.shape()).requiresGrad(true) : x;
    Tensor xc = floats ? Tensor.of(x.toFloatArray(), x.shape()).to(Device.cuda()).requiresGrad(true) : x.to(Device.cuda());
    Kiln.manualSeed(100);
    Tensor outE = eager.forward(xe);
    Kiln.manualSeed(100);
    Tensor outC = compiled.forward(xc);
    assertTrue(outC.device().isCuda(), model + ": output on " + outC.device());
    assertArrayEquals(outE.shape(), outC.shape());
    ParityTest.assertClose(model + " output", outC.toFloatArray(), outE.toFloatArray(), 1e-4);
    Tensor lossE = ZooSequenceTest.loss(outE);
    Tensor lossC = outC.mul(ZooSequenceTest.weights(outC.shape()).to(Device.cuda())).sum();
    ParityTest.assertClose(model + " loss", new float[] {lossC.item()}, new float[] {lossE.item()}, 1e-4);
    lossE.backward();
    lossC.backward();
    if (floats) {
      ParityTest.assertClose(model + " input gradient", xc.grad().toFloatArray(), xe.grad().toFloatArray(), 1e-4);
    }
    Map<String, Tensor> cp = compiled.namedParameters();
    eager.namedParameters().forEach((k, v) -> ParityTest.assertClose(model + " " + k + " gradient", cp.get(k).grad().toFloatArray(),
        v.grad().toFloatArray(), 1e-4));
  }
}
