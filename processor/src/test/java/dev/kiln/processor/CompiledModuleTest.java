package dev.kiln.processor;

import static com.google.testing.compile.CompilationSubject.assertThat;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.testing.compile.Compilation;
import com.google.testing.compile.JavaFileObjects;
import dev.kiln.dsl.Module;
import dev.kiln.runtime.Device;
import dev.kiln.runtime.Kiln;
import dev.kiln.runtime.PlanCache;
import dev.kiln.runtime.Tensor;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.function.Supplier;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** What a generated {@code Kiln<Name>} class does as a {@link Module} besides its fused forward. */
class CompiledModuleTest {

  /**
   * The fused forward applies no layer, so summary() must run the layers' eager forwards: the table
   * is the eager model's, row for row (it printed no rows and "Total params: 0" before), and the
   * compiled model needs no shape (it knows its declaration's). The forward afterwards is fused again.
   */
  @ParameterizedTest
  @CsvSource({
    "Mlp, test.Mlp, test.KilnMlp, 1:28:28",
    "Models, test.Models.mlp(), test.KilnMlp, 1:28:28",
    "Mixed, test.Mixed, test.KilnMixed, 2:3:4",
    "SmallCnn, test.SmallCnn, test.KilnSmallCnn, 1:8:8",
    "SequenceModels, test.SequenceModels.cnn(), test.KilnCnn, 3:20",
    "HiddenCnn, test.HiddenCnn, test.KilnHiddenCnn, 1:6:6",
    "HiddenArray, test.HiddenArray, test.KilnHiddenArray, 5",
    "SoftmaxMaps, test.SoftmaxMaps, test.KilnSoftmaxMaps, 2:3:4",
  })
  void summaryOfTheCompiledModelIsTheEagerModels(String source, String eagerName, String compiledName, String sampleShape) {
    Compilation c = ProcessorTest.compile(ProcessorTest.model(source));
    assertThat(c).succeededWithoutWarnings();
    ClassLoader loader = new ParityTest.CompiledClasses(c);
    Module eager = ParityTest.factory(loader, eagerName).get();
    Module compiled = ParityTest.factory(loader, compiledName).get();
    int[] shape = Arrays.stream(sampleShape.split(":")).mapToInt(Integer::parseInt).toArray();

    String expected = eager.summary(shape);
    assertTrue(expected.contains("Total params: "), expected);
    assertFalse(expected.contains("Total params: 0\n"), expected);
    assertEquals(expected, compiled.summary(shape));
    assertEquals(expected, compiled.summary(), "summary() with the declared input shape");
    assertTrue(compiled.isTraining(), "training mode restored");

    // The fused forward runs again afterwards: it keeps a plan per batch size, so a stale backward is refused.
    Tensor first = compiled.forward(Tensor.randn(batchOf(3, shape)).requiresGrad(true));
    compiled.forward(Tensor.randn(batchOf(3, shape)));
    compiled.forward(Tensor.randn(batchOf(3, shape))); // two may await their backwards; the third discards the first's
    var e = assertThrows(IllegalStateException.class, () -> first.sum().backward());
    assertTrue(e.getMessage().contains("were overwritten by later forwards"), e.getMessage());
  }

  private static int[] batchOf(int n, int[] sample) {
    int[] shape = new int[sample.length + 1];
    shape[0] = n;
    System.arraycopy(sample, 0, shape, 1, sample.length);
    return shape;
  }

  /** The eager declaration knows its @Model(input) too (the annotation is kept at run time): the same table. */
  @Test
  void eagerDeclarationSummarisesWithItsDeclaredShape() {
    Compilation c = ProcessorTest.compile(ProcessorTest.model("Mlp"));
    var loader = new ParityTest.CompiledClasses(c);
    Module eager = ParityTest.factory(loader, "test.Mlp").get();
    Module compiled = ParityTest.factory(loader, "test.KilnMlp").get();
    assertEquals(compiled.summary(), eager.summary());
  }

  /** Children named like the generated class's own fields get fields of other names; the model compiles and runs. */
  @Test
  void childrenNamedLikeTheClassesOwnFieldsCompile() throws Exception {
    Compilation c = ProcessorTest.compile(JavaFileObjects.forSourceString("test.Named", """
        package test;

        import dev.kiln.dsl.Linear;
        import dev.kiln.dsl.Model;
        import dev.kiln.dsl.ReLU;
        import dev.kiln.dsl.Sequential;

        public final class Named {
          private Named() {}

          @Model(input = {2})
          public static Sequential net() {
            return Sequential.builder().add("eager", new Linear(2, 3)).add("act", new ReLU()).add("plans", new Linear(3, 1)).build();
          }
        }
        """));
    assertThat(c).succeededWithoutWarnings();
    String source = c.generatedSourceFile("test.KilnNet").orElseThrow().getCharContent(false).toString();
    assertTrue(source.contains("layer_eager") && source.contains("layer_plans"), source);
    Module net = ParityTest.factory(new ParityTest.CompiledClasses(c), "test.KilnNet").get();
    assertEquals(java.util.List.of("eager.weight", "eager.bias", "plans.weight", "plans.bias"),
        java.util.List.copyOf(net.stateDict().keySet()));
    assertEquals(java.util.List.of(4, 1), java.util.Arrays.stream(net.forward(Tensor.randn(4, 2)).shape()).boxed().toList());
  }

  /**
   * A compiled model's tensor fields keep their state-dict keys, in PyTorch's order (the module's own
   * parameters, its buffers, then its children's), and their tensor objects: a save and a load into
   * another compiled model (or the eager one) carry the position table and the mask, which then give
   * the same outputs; the loaded position table is the object the compiled code reads.
   */
  @Test
  void tensorFieldsRoundTripThroughTheStateDict() throws Exception {
    Compilation c = ProcessorTest.compile(ProcessorTest.model("CausalBlock"));
    assertThat(c).succeededWithoutWarnings();
    ClassLoader loader = new ParityTest.CompiledClasses(c);
    Kiln.manualSeed(1);
    Module saved = ParityTest.factory(loader, "test.KilnCausalBlock").get();
    assertEquals(List.of("pos", "mask", "norm1.weight", "norm1.bias", "query.weight", "query.bias", "key.weight", "value.weight",
        "value.bias", "proj.weight", "proj.bias", "norm2.weight", "norm2.bias", "up.weight", "up.bias", "down.weight", "down.bias",
        "head.weight", "head.bias"), List.copyOf(saved.stateDict().keySet()));
    assertTrue(saved.namedParameters().containsKey("pos") && !saved.namedParameters().containsKey("mask"),
        "pos is a parameter, mask a buffer");
    assertEquals(List.of("mask"), List.copyOf(saved.namedBuffers().keySet()));
    java.nio.file.Path file = java.nio.file.Files.createTempFile("kiln-causal", ".safetensors");
    try {
      saved.save(file);
      Kiln.manualSeed(2);
      Module loaded = ParityTest.factory(loader, "test.KilnCausalBlock").get();
      Module eager = ParityTest.factory(loader, "test.CausalBlock").get();
      Tensor pos = loaded.namedParameters().get("pos");
      loaded.load(file);
      eager.load(file);
      assertSame(pos, loaded.namedParameters().get("pos"), "the same tensor object after load");
      assertArrayEquals(saved.stateDict().get("pos").toFloatArray(), pos.toFloatArray());
      Tensor x = Tensor.randn(3, 6, 8);
      try (var g = Kiln.noGrad()) {
        float[] expected = saved.forward(x).toFloatArray();
        assertArrayEquals(expected, loaded.forward(x).toFloatArray(), 1e-6f);
        assertArrayEquals(expected, eager.forward(x).toFloatArray(), 1e-5f);
      }
    } finally {
      java.nio.file.Files.deleteIfExists(file);
    }
  }

  /** Tensor fields named like the generated code's own names get fields of other names; the model compiles and runs. */
  @Test
  void tensorFieldsNamedLikeGeneratedNamesCompile() throws Exception {
    Compilation c = ProcessorTest.compile(JavaFileObjects.forSourceString("test.Shadowed", """
        package test;

        import dev.kiln.dsl.Linear;
        import dev.kiln.dsl.Model;
        import dev.kiln.dsl.Module;
        import dev.kiln.runtime.Tensor;

        @Model(input = {4})
        public class Shadowed extends Module {
          final Linear fc = new Linear(4, 4);
          final Tensor out = registerParameter("out", Tensor.zeros(1, 4).requiresGrad(true));
          final Tensor fcB = registerParameter("fcB", Tensor.ones(4).requiresGrad(true));
          final Tensor x = Tensor.ones(4).mul(2).requiresGrad(true);

          @Override public Tensor forward(Tensor x) {
            return fc.apply(x.add(out)).mul(fcB).add(this.x);
          }
        }
        """));
    assertThat(c).succeededWithoutWarnings();
    String source = c.generatedSourceFile("test.KilnShadowed").orElseThrow().getCharContent(false).toString();
    assertTrue(source.contains("this.tensor_out = out;") && source.contains("this.tensor_fcB = fcB;")
        && source.contains("this.tensor_x = x;"), source);
    ClassLoader loader = new ParityTest.CompiledClasses(c);
    Kiln.manualSeed(5);
    Module eager = ParityTest.factory(loader, "test.Shadowed").get();
    Kiln.manualSeed(5);
    Module compiled = ParityTest.factory(loader, "test.KilnShadowed").get();
    assertEquals(List.of("out", "fcB", "x", "fc.weight", "fc.bias"), List.copyOf(compiled.stateDict().keySet()));
    Tensor in = Tensor.randn(3, 4);
    eager.forward(in).sum().backward();
    compiled.forward(in).sum().backward();
    eager.namedParameters().forEach((k, v) -> ParityTest.assertClose(k + " gradient",
        compiled.namedParameters().get(k).grad().toFloatArray(), v.grad().toFloatArray(), 1e-5));
  }

  /** {@code to}, {@code train} and {@code eval} return the generated type: the DESIGN's {@code Net net = new KilnNet().to(device)}. */
  @Test
  void toTrainAndEvalReturnTheGeneratedType() throws Exception {
    Compilation c = ProcessorTest.compile(ProcessorTest.model("Mlp"), JavaFileObjects.forSourceString("test.Use", """
        package test;

        import dev.kiln.runtime.Device;

        public class Use implements java.util.function.Supplier<Object[]> {
          @Override
          public Object[] get() {
            Mlp declared = new KilnMlp().to(Device.cpu()).eval();
            KilnMlp compiled = new KilnMlp().train(false).train();
            Mlp again = new KilnMlp().eval();
            return new Object[] {declared, compiled, again};
          }
        }
        """));
    assertThat(c).succeededWithoutWarnings();
    @SuppressWarnings("unchecked")
    Supplier<Object[]> use = (Supplier<Object[]>) new ParityTest.CompiledClasses(c).loadClass("test.Use").getConstructor().newInstance();
    Object[] made = use.get();
    assertFalse(((Module) made[0]).isTraining());
    assertTrue(((Module) made[1]).isTraining());
    assertFalse(((Module) made[2]).isTraining());
    Module m = ParityTest.factory(new ParityTest.CompiledClasses(c), "test.KilnMlp").get();
    assertSame(m, m.to(Device.cpu()));
  }

  /**
   * One compiled instance serving inference from several threads (a web server's use): every call
   * equals the single-threaded result bit for bit. With one HashMap of plans, two calls of one batch
   * size wrote the same buffers (wrong outputs, or a ConcurrentModificationException).
   */
  @Test
  void oneInstanceServesInferenceFromSeveralThreads() throws Exception {
    Module net = compiledSmallCnn();
    net.eval();
    int[] batches = {1, 3, 7};
    Tensor[] inputs = new Tensor[batches.length];
    float[][] expected = new float[batches.length][];
    try (var g = Kiln.noGrad()) {
      for (int i = 0; i < batches.length; i++) {
        inputs[i] = Tensor.randn(batches[i], 1, 8, 8);
        expected[i] = net.forward(inputs[i]).toFloatArray();
      }
    }
    ExecutorService pool = Executors.newFixedThreadPool(6);
    try {
      List<Future<?>> calls = new ArrayList<>();
      for (int t = 0; t < 6; t++) {
        int first = t;
        calls.add(pool.submit(() -> {
          try (var g = Kiln.noGrad()) {
            for (int k = 0; k < 300; k++) {
              int i = (first + k) % batches.length;
              assertArrayEquals(expected[i], net.forward(inputs[i]).toFloatArray(), "batch " + batches[i] + ", call " + k);
            }
          }
          return null;
        }));
      }
      for (Future<?> call : calls) {
        call.get();
      }
    } finally {
      pool.shutdown();
    }
  }

  /**
   * A recorded forward's activations stay with its thread until its backward: another thread's
   * forward of the same batch size takes other buffers, so the backward's gradients are those of a
   * model that ran alone.
   */
  @Test
  void anotherThreadsForwardLeavesAPendingBackwardIntact() throws Exception {
    Module net = compiledSmallCnn();
    net.eval(); // no dropout or batch statistics: the same input gives the same gradients
    Tensor x = Tensor.randn(3, 1, 8, 8);
    net.forward(x).sum().backward();
    float[] alone = net.parameters().get(0).grad().toFloatArray();
    net.zeroGrad(true);

    Tensor pending = net.forward(x);
    Thread other = new Thread(() -> net.forward(Tensor.randn(3, 1, 8, 8).mul(100)).sum().backward());
    other.start();
    other.join();
    net.zeroGrad(true);
    pending.sum().backward();
    assertArrayEquals(alone, net.parameters().get(0).grad().toFloatArray());
  }

  /** At most PlanCache.KEEP buffer sets are kept between calls, however many batch sizes a model sees. */
  @Test
  void keepsABoundedNumberOfBatchSizes() throws Exception {
    Module net = compiledSmallCnn();
    net.eval();
    try (var g = Kiln.noGrad()) {
      for (int n = 1; n <= 12; n++) {
        net.forward(Tensor.randn(n, 1, 8, 8));
      }
    }
    var field = net.getClass().getDeclaredField("plans");
    field.setAccessible(true);
    assertArrayEquals(new int[] {12, 11, 10, 9}, ((PlanCache<?>) field.get(net)).keptBatchSizes());
  }

  /**
   * Each batch norm and dropout follows its own train()/eval() mode, as PyTorch's modules read their
   * own self.training: a frozen batch norm while fine-tuning (bn.eval() in a training model), and
   * Monte Carlo dropout (model.eval(), dropout.train()). The compiled model read the top module's
   * mode for all of them.
   */
  @Test
  void batchNormAndDropoutFollowTheirOwnMode() throws Exception {
    Compilation c = ProcessorTest.compile(ProcessorTest.model("SmallCnn"));
    assertThat(c).succeededWithoutWarnings();
    ClassLoader loader = new ParityTest.CompiledClasses(c);
    Module eager = ParityTest.factory(loader, "test.SmallCnn").get();
    Module compiled = ParityTest.factory(loader, "test.KilnSmallCnn").get();
    compiled.loadStateDict(eager.stateDict());
    Tensor x = Tensor.randn(5, 1, 8, 8);

    // training, with the convolution's batch norm frozen: running statistics normalise and stay as they are
    for (Module m : List.of(eager, compiled)) {
      m.train();
      m.getSubmodule("bn1").eval();
      m.getSubmodule("dropout").eval();
    }
    float[] before = compiled.stateDict().get("bn1.running_mean").toFloatArray();
    assertArrayEquals(eager.forward(x).toFloatArray(), compiled.forward(x).toFloatArray(), 1e-5f);
    assertArrayEquals(before, compiled.stateDict().get("bn1.running_mean").toFloatArray(), "a frozen batch norm's statistics");
    assertEquals(0f, compiled.stateDict().get("bn1.num_batches_tracked").item());
    assertEquals(1f, compiled.stateDict().get("bnFc1.num_batches_tracked").item(), "the other batch norm still trains");

    // evaluation with dropout on: two passes differ, as eager mode's do
    compiled.eval();
    compiled.getSubmodule("dropout").train();
    try (var g = Kiln.noGrad()) {
      assertFalse(Arrays.equals(compiled.forward(x).toFloatArray(), compiled.forward(x).toFloatArray()), "Monte Carlo dropout");
    }
  }

  /** As eager mode and PyTorch: the graph is fixed at the forward, so a weight frozen then gets no gradient even if unfrozen before the backward. */
  @Test
  void aParameterFrozenAtTheForwardGetsNoGradient() {
    Module net = compiledSmallCnn();
    net.eval();
    Tensor w = ((dev.kiln.dsl.Linear) net.getSubmodule("fc1")).weight();
    w.requiresGrad(false);
    Tensor loss = net.forward(Tensor.randn(3, 1, 8, 8)).sum();
    w.requiresGrad(true);
    loss.backward();
    assertEquals(null, w.grad());
    assertTrue(((dev.kiln.dsl.Linear) net.getSubmodule("fc2")).weight().grad() != null, "the others train");
  }

  private static Module compiledSmallCnn() {
    Compilation c = ProcessorTest.compile(ProcessorTest.model("SmallCnn"));
    assertThat(c).succeededWithoutWarnings();
    Kiln.manualSeed(7);
    return ParityTest.factory(new ParityTest.CompiledClasses(c), "test.KilnSmallCnn").get();
  }
}
