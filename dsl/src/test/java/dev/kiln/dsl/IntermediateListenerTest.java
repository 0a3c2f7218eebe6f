package dev.kiln.dsl;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.kiln.runtime.Kiln;
import dev.kiln.runtime.Tensor;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * A forward listener (what {@link Summary} and any hook-like tool would use) sees every layer's output inside a
 * {@link Sequential}: while one is set, no output is given back to the array pool under no grad (dev.kiln.runtime's
 * IntermediateReuseTest covers the rest), so every output it kept still reads as it did.
 */
class IntermediateListenerTest {
  @Test
  void outputsAForwardListenerSawStayReadable() {
    Kiln.manualSeed(9);
    Sequential net = Sequential.of(new Conv2d(16, 16, 3).padding(1), new ReLU(), new Conv2d(16, 16, 3).padding(1),
        new ReLU(), new Flatten()).eval();
    List<Tensor> seen = new ArrayList<>();
    List<float[]> values = new ArrayList<>();
    Module.FORWARD_LISTENER.set((module, output) -> {
      seen.add(output);
      values.add(output.toFloatArray());
    });
    try (var g = Kiln.noGrad()) {
      net.forward(Tensor.randn(4, 16, 32, 32));
      Module.FORWARD_LISTENER.remove();
      for (int i = 0; i < 3; i++) {
        net.forward(Tensor.randn(4, 16, 32, 32)); // reuses its own maps, not the ones seen
      }
    } finally {
      Module.FORWARD_LISTENER.remove();
    }
    assertEquals(5, seen.size());
    for (int i = 0; i < seen.size(); i++) {
      assertArrayEquals(values.get(i), seen.get(i).toFloatArray(), "output " + i);
    }
  }
}
