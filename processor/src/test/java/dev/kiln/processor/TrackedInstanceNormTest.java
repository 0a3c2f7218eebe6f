package dev.kiln.processor;

import static com.google.testing.compile.CompilationSubject.assertThat;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import com.google.testing.compile.Compilation;
import dev.kiln.dsl.CrossEntropyLoss;
import dev.kiln.dsl.Module;
import dev.kiln.runtime.Kiln;
import dev.kiln.runtime.Tensor;
import java.io.IOException;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * InstanceNorm1d and InstanceNorm2d with {@code track_running_stats} in a compiled forward (TrackedInstanceNorms): the
 * golden source; training steps then evaluation eager mode's bit for bit (values, gradients, the running statistics); in
 * evaluation the gradients too (normalised by the running statistics); PyTorch's state-dict keys.
 */
class TrackedInstanceNormTest {
  @Test
  void generatesTheGoldenSourceWithoutWarnings() throws IOException {
    Compilation c = ProcessorTest.compile(ProcessorTest.model("TrackedInstanceNorms"));
    assertThat(c).succeededWithoutWarnings();
    ProcessorTest.assertGolden(c, "KilnTrackedInstanceNorms", "KilnTrackedInstanceNorms.java");
  }

  @Test
  void trainingAndEvaluationMatchEagerBitForBit() {
    Module compiled = ParityTest.matchesEagerBitForBit("TrackedInstanceNorms", "3:8");
    assertEquals(List.of("mix.weight", "mix.bias", "norm.weight", "norm.bias", "norm.running_mean", "norm.running_var",
        "norm.num_batches_tracked", "plain.running_mean", "plain.running_var", "plain.num_batches_tracked", "image.weight",
        "image.bias", "image.running_mean", "image.running_var", "image.num_batches_tracked", "head.weight", "head.bias"),
        List.copyOf(compiled.stateDict().keySet()));
  }

  /** Both models trained alike, then the running statistics, and evaluation's outputs and gradients, compared bit for bit. */
  @Test
  void runningStatisticsAndEvaluationGradientsAreEagerModes() {
    Compilation c = ProcessorTest.compile(ProcessorTest.model("TrackedInstanceNorms"));
    assertThat(c).succeededWithoutWarnings();
    ClassLoader loader = new ParityTest.CompiledClasses(c);
    Kiln.manualSeed(11);
    Module eager = ParityTest.factory(loader, "test.TrackedInstanceNorms").get();
    Kiln.manualSeed(11);
    Module compiled = ParityTest.factory(loader, "test.KilnTrackedInstanceNorms").get();
    Tensor y = Tensor.labels(0, 2, 1, 1, 0);
    Kiln.manualSeed(3);
    for (int step = 0; step < 3; step++) {
      Tensor x = Tensor.randn(5, 3, 8);
      for (Module m : List.of(eager, compiled)) {
        m.zeroGrad();
        new CrossEntropyLoss().apply(m.forward(x), y).backward();
      }
    }
    Map<String, Tensor> es = eager.stateDict(), cs = compiled.stateDict();
    es.forEach((k, v) -> assertArrayEquals(v.toFloatArray(), cs.get(k).toFloatArray(), k));
    eager.eval();
    compiled.eval();
    float[] values = Tensor.randn(5, 3, 8).toFloatArray();
    Tensor xe = Tensor.of(values, 5, 3, 8).requiresGrad(true), xc = Tensor.of(values, 5, 3, 8).requiresGrad(true);
    eager.zeroGrad();
    compiled.zeroGrad();
    Tensor oe = eager.forward(xe), oc = compiled.forward(xc);
    assertArrayEquals(oe.toFloatArray(), oc.toFloatArray(), "output in evaluation");
    new CrossEntropyLoss().apply(oe, y).backward();
    new CrossEntropyLoss().apply(oc, y).backward();
    assertArrayEquals(xe.grad().toFloatArray(), xc.grad().toFloatArray(), "input gradient in evaluation");
    Map<String, Tensor> ep = eager.namedParameters(), cp = compiled.namedParameters();
    ep.forEach((k, v) -> assertArrayEquals(v.grad().toFloatArray(), cp.get(k).grad().toFloatArray(), k + " gradient in evaluation"));
    es.forEach((k, v) -> assertArrayEquals(v.toFloatArray(), cs.get(k).toFloatArray(), k + " after evaluation"));
  }
}
