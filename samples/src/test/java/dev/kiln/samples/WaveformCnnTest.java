package dev.kiln.samples;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kiln.dsl.CrossEntropyLoss;
import dev.kiln.dsl.Module;
import dev.kiln.runtime.Kiln;
import dev.kiln.runtime.Tensor;
import dev.kiln.runtime.optim.SGD;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The 1-d CNN sample: compiled as its declaration (values and gradients), and it learns the synthetic waves' classes. */
class WaveformCnnTest {
  @Test
  void compiledMatchesTheDeclaration() {
    Kiln.manualSeed(3);
    Module eager = new WaveformCnn();
    Kiln.manualSeed(3);
    Module compiled = new KilnWaveformCnn();
    assertEquals(List.copyOf(eager.stateDict().keySet()), List.copyOf(compiled.stateDict().keySet()));
    Tensor[] b = WaveformCnn.batch(8, 0.3);
    Tensor le = new CrossEntropyLoss().apply(eager.forward(b[0]), b[1]);
    Tensor lc = new CrossEntropyLoss().apply(compiled.forward(b[0]), b[1]);
    assertEquals(le.item(), lc.item(), 1e-6 * Math.abs(le.item()));
    le.backward();
    lc.backward();
    Map<String, Tensor> cp = compiled.namedParameters();
    eager.namedParameters().forEach((k, p) -> assertArrayEquals(p.grad().toFloatArray(), cp.get(k).grad().toFloatArray(), 1e-5f, k));
  }

  @Test
  void compiledModelLearnsTheWavesFrequencies() {
    Kiln.manualSeed(0);
    WaveformCnn net = new KilnWaveformCnn();
    var opt = new SGD(net.parameters(), 0.05).momentum(0.9);
    var criterion = new CrossEntropyLoss();
    for (int step = 0; step < 150; step++) {
      Tensor[] b = WaveformCnn.batch(32, 0.3);
      opt.zeroGrad();
      criterion.apply(net.forward(b[0]), b[1]).backward();
      opt.step();
    }
    net.eval();
    Tensor[] test = WaveformCnn.batch(300, 0.3);
    try (var g = Kiln.noGrad()) {
      float correct = net.forward(test[0]).argmax(1).eq(test[1]).sum().item();
      assertTrue(correct / 300 > 0.9, "accuracy " + correct / 300);
    }
  }
}
