package dev.kiln.samples;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kiln.dsl.CrossEntropyLoss;
import dev.kiln.dsl.Module;
import dev.kiln.runtime.Kiln;
import dev.kiln.runtime.Tensor;
import java.util.List;
import java.util.Map;
import java.util.function.Supplier;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** The classes the processor generated for the samples behave as their declarations (batch 4, train mode). */
class GeneratedModelsTest {
  private static double relativeError(float[] a, float[] b) {
    double diff = 0, norm = 0;
    for (int i = 0; i < b.length; i++) {
      diff += Math.pow(a[i] - b[i], 2);
      norm += Math.pow(b[i], 2);
    }
    return Math.sqrt(diff) / Math.max(Math.sqrt(norm), 1e-30);
  }

  @ParameterizedTest
  @ValueSource(strings = {"mlp", "cnn", "cifar10", "resnet", "transformer", "encoder", "lstm"})
  void generatedClassMatchesDeclaration(String which) {
    Supplier<Module> eagerFactory = switch (which) {
      case "mlp" -> Models::mlp;
      case "cnn" -> FashionCnn::new;
      case "resnet" -> FashionResNet::new;
      case "transformer" -> FashionTransformer::new;
      case "encoder" -> FashionEncoder::new;
      case "lstm" -> FashionLstm::new;
      default -> Models::cifar10;
    };
    Supplier<Module> compiledFactory = switch (which) {
      case "mlp" -> KilnMlp::new;
      case "cnn" -> KilnFashionCnn::new;
      case "resnet" -> KilnFashionResNet::new;
      case "transformer" -> KilnFashionTransformer::new;
      case "encoder" -> KilnFashionEncoder::new;
      case "lstm" -> KilnFashionLstm::new;
      default -> KilnCifar10::new;
    };
    Kiln.manualSeed(4);
    Module eager = eagerFactory.get();
    Kiln.manualSeed(4);
    Module compiled = compiledFactory.get();
    assertEquals(List.copyOf(eager.stateDict().keySet()), List.copyOf(compiled.stateDict().keySet()));

    Tensor x = which.equals("cifar10") ? Tensor.randn(4, 3, 32, 32) : Tensor.randn(4, 1, 28, 28);
    Tensor y = Tensor.labels(3, 1, 4, 1);
    Kiln.manualSeed(5); // same dropout masks
    Tensor le = new CrossEntropyLoss().apply(eager.forward(x), y);
    Kiln.manualSeed(5);
    Tensor lc = new CrossEntropyLoss().apply(compiled.forward(x), y);
    assertEquals(le.item(), lc.item(), 1e-5 * Math.abs(le.item()));
    le.backward();
    lc.backward();
    Map<String, Tensor> pc = compiled.namedParameters();
    eager.namedParameters().forEach((k, p) -> {
      assertArrayEquals(p.shape(), pc.get(k).grad().shape(), k);
      double err = relativeError(pc.get(k).grad().toFloatArray(), p.grad().toFloatArray());
      assertTrue(err < 1e-4, k + " gradient differs by " + err);
    });
  }
}
