package dev.kiln.samples;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;

import dev.kiln.dsl.Module;
import dev.kiln.runtime.Kiln;
import dev.kiln.runtime.Tensor;
import java.util.function.Supplier;
import org.junit.jupiter.api.Test;

/**
 * The sequence classifier {@code bench --model lstm} times, eager and compiled, in inference bit for bit: eager without
 * a gradient (the projection pooled, the hidden states written alone, {@code Ops.recurrentLayer}), eager recording one
 * (the output narrowed out of the states), and the compiled model ({@code RecurrentStack}: the bias folded into the
 * projection, the hidden states alone), the same weights and input; over several forwards, so that arrays the pool
 * gives back are overwritten whole.
 */
class LstmInferenceParityTest {
  private static Module made(Supplier<Module> factory) {
    Kiln.manualSeed(5);
    Module m = factory.get();
    m.eval();
    return m;
  }

  @Test
  void eagerWithAndWithoutAGradientAndCompiledGiveTheSameBits() {
    Module eager = made(SequenceClassifier::new);
    Module compiled = made(KilnSequenceClassifier::new);
    for (int round = 0; round < 3; round++) {
      Kiln.manualSeed(round);
      Tensor x = Tensor.randn(5, 50, 64);
      float[] recorded = eager.forward(x).toFloatArray();
      float[] plain, fromCompiled;
      try (var g = Kiln.noGrad()) {
        plain = eager.forward(x).toFloatArray();
        fromCompiled = compiled.forward(x).toFloatArray();
      }
      assertBits(recorded, plain, "eager without a gradient, round " + round);
      assertBits(recorded, fromCompiled, "compiled, round " + round);
      assertBits(recorded, compiled.forward(x).toFloatArray(), "compiled recording, round " + round);
    }
  }

  private static void assertBits(float[] expected, float[] actual, String what) {
    int[] e = new int[expected.length], a = new int[actual.length];
    for (int i = 0; i < e.length; i++) {
      e[i] = Float.floatToRawIntBits(expected[i]);
    }
    for (int i = 0; i < a.length; i++) {
      a[i] = Float.floatToRawIntBits(actual[i]);
    }
    assertArrayEquals(e, a, what);
  }
}
