package dev.kiln.processor;

import static com.google.testing.compile.CompilationSubject.assertThat;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.testing.compile.Compilation;
import dev.kiln.dsl.CrossEntropyLoss;
import dev.kiln.dsl.Embedding;
import dev.kiln.dsl.MSELoss;
import dev.kiln.dsl.Reduction;
import dev.kiln.dsl.Module;
import dev.kiln.runtime.Kiln;
import dev.kiln.runtime.Tensor;
import dev.kiln.runtime.optim.SGD;
import java.io.IOException;
import java.io.InputStream;
import java.lang.reflect.Method;
import java.lang.reflect.RecordComponent;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.function.Supplier;
import javax.tools.JavaFileObject;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * Runs the generated code: compiled and eager forward, loss and every gradient agree to 1e-5
 * (relative norm) on fresh random inputs, and after 10 SGD steps from the same seed the
 * parameters agree to 1e-4.
 */
class ParityTest {
  /** Loads the classes a compilation produced, parent-first for everything else. */
  static final class CompiledClasses extends ClassLoader {
    private final Compilation compilation;

    CompiledClasses(Compilation compilation) {
      super(ParityTest.class.getClassLoader());
      this.compilation = compilation;
    }

    @Override
    protected Class<?> findClass(String name) throws ClassNotFoundException {
      String path = "/CLASS_OUTPUT/" + name.replace('.', '/') + ".class";
      for (JavaFileObject f : compilation.generatedFiles()) {
        if (f.getKind() == JavaFileObject.Kind.CLASS && f.toUri().getPath().endsWith(path)) {
          try (InputStream in = f.openInputStream()) {
            byte[] bytes = in.readAllBytes();
            return defineClass(name, bytes, 0, bytes.length);
          } catch (IOException e) {
            throw new ClassNotFoundException(name, e);
          }
        }
      }
      throw new ClassNotFoundException(name);
    }
  }

  static Supplier<Module> factory(ClassLoader loader, String expression) {
    return () -> {
      try {
        if (expression.endsWith("()")) { // a static factory method: Class.method()
          String owner = expression.substring(0, expression.lastIndexOf('.'));
          String method = expression.substring(owner.length() + 1, expression.length() - 2);
          return (Module) loader.loadClass(owner).getMethod(method).invoke(null);
        }
        return (Module) loader.loadClass(expression).getConstructor().newInstance();
      } catch (ReflectiveOperationException e) {
        throw new AssertionError("cannot create " + expression, e);
      }
    };
  }

  static double relativeError(float[] actual, float[] expected) {
    double diff = 0, norm = 0;
    for (int i = 0; i < expected.length; i++) {
      if (Float.isInfinite(expected[i]) && actual[i] == expected[i]) {
        continue; // an equal infinity (an attention mask's -inf) differs by nothing
      }
      diff += Math.pow(actual[i] - expected[i], 2);
      norm += Math.pow(expected[i], 2);
    }
    return Math.sqrt(diff) / Math.max(Math.sqrt(norm), 1e-30);
  }

  static void assertClose(String what, float[] actual, float[] expected, double tolerance) {
    assertEquals(expected.length, actual.length, what + ": lengths");
    double err = relativeError(actual, expected);
    assertTrue(err <= tolerance, what + ": relative error " + err + " > " + tolerance);
  }

  /** A layer changed after its initializer (in a constructor) no longer matches the compiled code: refused on construction. */
  @Test
  void aLayerConfiguredOutsideItsInitializerIsRefused() {
    Compilation c = ProcessorTest.compile(ProcessorTest.model("ConfiguredInConstructor"));
    assertThat(c).succeededWithoutWarnings();
    Supplier<Module> compiled = factory(new CompiledClasses(c), "test.KilnConfiguredInConstructor");
    var e = org.junit.jupiter.api.Assertions.assertThrows(AssertionError.class, compiled::get); // the factory wraps it
    org.junit.jupiter.api.Assertions.assertTrue(rootCause(e) instanceof IllegalStateException, rootCause(e).toString());
    assertEquals("KilnConfiguredInConstructor: layer 'conv' is Conv2d(1, 4, kernel_size=(3, 3), stride=(1, 1), "
        + "padding=(1, 1)), but the compiled code was generated for Conv2d(1, 4, kernel_size=(3, 3), stride=(1, 1)), as "
        + "its declaration initialises it; the annotation processor reads each layer from its initializer or its one "
        + "assignment in the constructor without parameters, so configure it there (new Conv2d(...) with its builder "
        + "calls), not by calls on the layer afterwards", rootCause(e).getMessage());
  }

  /**
   * A GAN's discriminator step: the compiled model on real and on fake inputs of one batch size,
   * then one backward of the summed losses, gives the eager gradients (two forwards may await their
   * backwards, each on a plan of its own).
   */
  @Test
  void twoForwardsOfOneSizeThenOneBackwardAsEager() {
    Compilation c = ProcessorTest.compile(ProcessorTest.model("Mlp"));
    assertThat(c).succeededWithoutWarnings();
    ClassLoader loader = new CompiledClasses(c);
    Kiln.manualSeed(5);
    Module eager = factory(loader, "test.Mlp").get();
    Kiln.manualSeed(5);
    Module compiled = factory(loader, "test.KilnMlp").get();
    Tensor real = Tensor.randn(4, 1, 28, 28);
    Tensor fake = Tensor.randn(4, 1, 28, 28);
    Tensor ones = Tensor.labels(1, 1, 1, 1);
    Tensor zeros = Tensor.labels(0, 0, 0, 0);
    for (Module m : List.of(eager, compiled)) {
      Kiln.manualSeed(9); // the same dropout masks, if any
      CrossEntropyLoss ce = new CrossEntropyLoss();
      ce.apply(m.forward(real), ones).add(ce.apply(m.forward(fake), zeros)).backward();
    }
    Map<String, Tensor> cp = compiled.namedParameters();
    eager.namedParameters().forEach((k, v) -> assertClose(k + " gradient", cp.get(k).grad().toFloatArray(), v.grad().toFloatArray(), 1e-5));
    // a third forward of that size discards the first graph: a backward through it is refused before adding anything
    compiled.zeroGrad(true);
    Tensor first = compiled.forward(real);
    Tensor second = compiled.forward(fake);
    Tensor third = compiled.forward(real);
    var refused = assertThrows(IllegalStateException.class, () -> first.sum().add(second.sum()).add(third.sum()).backward());
    assertTrue(refused.getMessage().contains("were overwritten by later forwards"), refused.getMessage());
    compiled.parameters().forEach(p -> assertTrue(p.grad() == null, "a refused backward adds no gradient"));
    second.sum().add(third.sum()).backward(); // the two newer graphs are intact

    // a graph kept by backward(true) stays intact across the next forward, and a forward under noGrad takes no pending plan
    Tensor kept = compiled.forward(real);
    kept.sum().backward(true);
    Tensor other = compiled.forward(fake);
    try (var g = Kiln.noGrad()) {
      compiled.forward(real);
    }
    kept.sum().backward();
    other.sum().backward();
  }

  /** Arguments computed in float (0.1f + 0.2f) are folded in float, as javac folds them: the compiled class builds. */
  @Test
  void floatArgumentsFoldAsJavaDoes() {
    Compilation c = ProcessorTest.compile(ProcessorTest.model("FloatArguments"));
    assertThat(c).succeededWithoutWarnings();
    Module compiled = factory(new CompiledClasses(c), "test.KilnFloatArguments").get();
    assertEquals("Dropout(p=0.30000001192092896, inplace=False)", compiled.getSubmodule("drop").toString());
  }

  /**
   * A method of several inputs ({@code @Input}): compiled and eager give the same output, every parameter's
   * gradient and each float input's gradient (a mask input, read only as a mask, gets none in either), over
   * batch sizes 5, 3 and 5 again (a plan per batch size); a further input of another shape or batch size
   * is refused naming the parameter.
   */
  @ParameterizedTest
  @CsvSource({
    "TwoTower, forwardPair, b, a",
    "MaskedAttention, forwardMasked, mask, x",
    "CausalLocal, forwardPadded, mask, x",
    "PaddedEncoder, forwardPadded, pad, x",
    "EncoderDecoder, forwardPair, src, tgt",
    "SmallTransformer, forwardPair, src, tgt",
    "PaddedTransformer, forwardPadded, src, tgt",
    "PaddedDecoder, forwardPadded, memory, tgt",
    "InputsBesideOutputs, forwardGated, gate, x",
    "StateInput, forwardFrom, h, x",
  })
  void severalInputsMatchEager(String source, String methodName, String further, String first) throws ReflectiveOperationException {
    Compilation c = ProcessorTest.compile(ProcessorTest.model(source));
    assertThat(c).succeededWithoutWarnings();
    ClassLoader loader = new CompiledClasses(c);
    Kiln.manualSeed(11);
    Module eager = factory(loader, "test." + source).get();
    Kiln.manualSeed(11);
    Module compiled = factory(loader, "test.Kiln" + source).get();
    Method method = Arrays.stream(eager.getClass().getMethods()).filter(m -> m.getName().equals(methodName)).findFirst().orElseThrow();
    int[] sample = eager.getClass().getAnnotation(dev.kiln.dsl.Model.class).input();
    java.lang.reflect.Parameter[] params = method.getParameters();
    for (int batch : new int[] {5, 3, 5}) {
      Kiln.manualSeed(batch);
      List<Tensor> inputsE = new ArrayList<>();
      List<Tensor> inputsC = new ArrayList<>();
      for (int i = 0; i < params.length; i++) {
        int[] own = i == 0 ? sample : params[i].getAnnotation(dev.kiln.dsl.Input.class).value();
        int[] shape = new int[own.length + 1];
        shape[0] = batch;
        System.arraycopy(own, 0, shape, 1, own.length);
        boolean mask = i > 0 && further.equals("mask");
        Tensor t = mask ? paddingMask(batch, own[0]) : Tensor.randn(shape);
        inputsE.add(mask ? t : Tensor.of(t.toFloatArray(), shape).requiresGrad(true));
        inputsC.add(mask ? t : Tensor.of(t.toFloatArray(), shape).requiresGrad(true));
      }
      eager.zeroGrad(true);
      compiled.zeroGrad(true);
      Tensor outE = (Tensor) method.invoke(eager, inputsE.toArray());
      Tensor outC = (Tensor) method.invoke(compiled, inputsC.toArray());
      assertArrayEquals(outE.shape(), outC.shape());
      assertClose("output", outC.toFloatArray(), outE.toFloatArray(), 1e-5);
      Tensor target = Tensor.randn(outE.shape());
      new MSELoss().apply(outE, target).backward();
      new MSELoss().apply(outC, target).backward();
      for (int i = 0; i < params.length; i++) {
        Tensor ge = inputsE.get(i).grad();
        Tensor gc = inputsC.get(i).grad();
        assertEquals(ge == null, gc == null, "input " + i + ": a gradient in one mode only");
        if (ge != null) {
          assertClose("input " + i + " gradient", gc.toFloatArray(), ge.toFloatArray(), 1e-5);
        }
      }
      Map<String, Tensor> cp = compiled.namedParameters();
      eager.namedParameters().forEach((k, v) -> {
        if (v.grad() == null) { // a layer the method does not use (forward's own head)
          assertTrue(cp.get(k).grad() == null, k + " has a gradient in the compiled model only");
          return;
        }
        assertNotNull(cp.get(k).grad(), k + " has no gradient in the compiled model");
        assertClose(k + " gradient", cp.get(k).grad().toFloatArray(), v.grad().toFloatArray(), 1e-5);
      });
      // forward keeps its own body, compiled as well
      Tensor x = Tensor.of(inputsE.get(0).toFloatArray(), inputsE.get(0).shape());
      assertClose("forward", compiled.forward(x).toFloatArray(), eager.forward(x).toFloatArray(), 1e-5);
    }
    // a further input of another batch size or sample shape: refused, naming the parameter and both shapes
    int[] own = params[1].getAnnotation(dev.kiln.dsl.Input.class).value();
    int[] x = new int[sample.length + 1];
    x[0] = 4;
    System.arraycopy(sample, 0, x, 1, sample.length);
    Object[] args = new Object[params.length];
    for (int i = 0; i < params.length; i++) {
      int[] s = i == 0 ? sample : params[i].getAnnotation(dev.kiln.dsl.Input.class).value();
      int[] shape = new int[s.length + 1];
      shape[0] = i == 1 ? 3 : 4;
      System.arraycopy(s, 0, shape, 1, s.length);
      args[i] = Tensor.ones(shape);
    }
    var e = assertThrows(java.lang.reflect.InvocationTargetException.class, () -> method.invoke(compiled, args));
    assertEquals("Kiln" + source + "." + methodName + " expects " + further + " [4, " + joined(own) + "] (one sample ["
        + joined(own) + "], the batch size 4 of " + first + "), got [3, " + joined(own) + "]; every input of one call holds"
        + " the same samples, so give " + further + " " + first + "'s batch size", e.getCause().getMessage());
    args[1] = Tensor.ones(4, own[0] + 1);
    e = assertThrows(java.lang.reflect.InvocationTargetException.class, () -> method.invoke(compiled, args));
    assertEquals("Kiln" + source + "." + methodName + " expects " + further + " [4, " + joined(own) + "] (one sample ["
        + joined(own) + "], the batch size 4 of " + first + "), got [4, " + (own[0] + 1) + "]", e.getCause().getMessage());
  }

  /**
   * A method of several inputs whose inputs hold ids ({@code @Input({1})} one id per sample, {@code @Input({3})} three),
   * each looked up by an Embedding: compiled and eager give the same output and the same gradient of every parameter
   * (the tables' rows, none into a padding row; bit for bit where {@code exact}), none to the ids, the float input's
   * gradient, over batch sizes 5, 3 and 5 again; ids given as floats, of another batch size or out of range are refused
   * naming the parameter (an id out of range with eager mode's own message).
   *
   * @param vocabularies per parameter, the Embedding's rows for ids, 0 for a float input
   * @param names the further parameters' names, as declared (class files do not keep them)
   */
  @ParameterizedTest
  @CsvSource({
    "Recommender, forwardPair, 7:9, users, items, true",
    "CrossRecommender, forwardPair, 7:9, users, items, true",
    "TaggedImage, forwardTagged, 0:5:8, x, category:tags, false",
    "BaggedTags, forwardTagged, 0:5:8, x, category:tags, false",
  })
  void idInputsMatchEager(String source, String methodName, String vocabularies, String first, String names, boolean exact)
      throws ReflectiveOperationException {
    Compilation c = ProcessorTest.compile(ProcessorTest.model(source));
    assertThat(c).succeededWithoutWarnings();
    ClassLoader loader = new CompiledClasses(c);
    Kiln.manualSeed(11);
    Module eager = factory(loader, "test." + source).get();
    Kiln.manualSeed(11);
    Module compiled = factory(loader, "test.Kiln" + source).get();
    Method method = Arrays.stream(eager.getClass().getMethods()).filter(m -> m.getName().equals(methodName)).findFirst().orElseThrow();
    int[] vocabulary = Arrays.stream(vocabularies.split(":")).mapToInt(Integer::parseInt).toArray();
    java.lang.reflect.Parameter[] params = method.getParameters();
    int[][] samples = new int[params.length][];
    for (int i = 0; i < params.length; i++) {
      samples[i] = i == 0 ? eager.getClass().getAnnotation(dev.kiln.dsl.Model.class).input()
          : params[i].getAnnotation(dev.kiln.dsl.Input.class).value();
    }
    for (int batch : new int[] {5, 3, 5}) {
      Kiln.manualSeed(batch);
      List<Tensor> inputsE = new ArrayList<>();
      List<Tensor> inputsC = new ArrayList<>();
      for (int i = 0; i < params.length; i++) {
        int[] shape = batched(batch, samples[i]);
        if (vocabulary[i] > 0) { // the same label tensor for both: ids get no gradient
          Tensor t = ids(batch, Arrays.stream(samples[i]).reduce(1, (a, b) -> a * b), vocabulary[i]).reshape(shape);
          inputsE.add(t);
          inputsC.add(t);
        } else {
          Tensor t = Tensor.randn(shape);
          inputsE.add(Tensor.of(t.toFloatArray(), shape).requiresGrad(true));
          inputsC.add(Tensor.of(t.toFloatArray(), shape).requiresGrad(true));
        }
      }
      eager.zeroGrad(true);
      compiled.zeroGrad(true);
      Tensor outE = (Tensor) method.invoke(eager, inputsE.toArray());
      Tensor outC = (Tensor) method.invoke(compiled, inputsC.toArray());
      assertArrayEquals(outE.shape(), outC.shape());
      if (exact) {
        assertArrayEquals(outE.toFloatArray(), outC.toFloatArray(), "output");
      } else {
        assertClose("output", outC.toFloatArray(), outE.toFloatArray(), 1e-5);
      }
      Tensor target = Tensor.randn(outE.shape());
      new MSELoss().apply(outE, target).backward();
      new MSELoss().apply(outC, target).backward();
      for (int i = 0; i < params.length; i++) {
        Tensor ge = inputsE.get(i).grad();
        Tensor gc = inputsC.get(i).grad();
        if (vocabulary[i] > 0) {
          assertTrue(ge == null && gc == null, "ids got a gradient: input " + i);
        } else {
          assertNotNull(gc, "input " + i + " has no gradient in the compiled model");
          assertClose("input " + i + " gradient", gc.toFloatArray(), ge.toFloatArray(), 1e-5);
        }
      }
      Map<String, Tensor> cp = compiled.namedParameters();
      eager.namedParameters().forEach((k, v) -> {
        if (v.grad() == null) { // a layer the method does not use (forward's own head)
          assertTrue(cp.get(k).grad() == null, k + " has a gradient in the compiled model only");
          return;
        }
        assertNotNull(cp.get(k).grad(), k + " has no gradient in the compiled model");
        if (exact || k.endsWith("Rows.weight")) { // an embedding's backward adds each row as eager mode does
          assertArrayEquals(v.grad().toFloatArray(), cp.get(k).grad().toFloatArray(), k + " gradient");
        } else {
          assertClose(k + " gradient", cp.get(k).grad().toFloatArray(), v.grad().toFloatArray(), 1e-5);
        }
      });
      Embedding padded = compiled.namedModules().values().stream().filter(m -> m instanceof Embedding e && e.paddingIdx() >= 0)
          .map(Embedding.class::cast).findFirst().orElseThrow();
      float[] rows = padded.weight().grad().toFloatArray();
      int dim = padded.weight().size(1);
      assertArrayEquals(new float[dim], Arrays.copyOfRange(rows, padded.paddingIdx() * dim, (padded.paddingIdx() + 1) * dim),
          "the padding row's gradient (ids() gives id 0 to the first sample)");
    }
    // each table frozen in turn (fine-tuning one tower): the other's gradient as eager mode's, none for the frozen one
    List<String> tables = eager.namedParameters().keySet().stream().filter(k -> k.endsWith("Rows.weight")).toList();
    for (String frozen : tables) {
      Kiln.manualSeed(7);
      List<Tensor> inputs = new ArrayList<>();
      for (int i = 0; i < params.length; i++) {
        int[] shape = batched(4, samples[i]);
        inputs.add(vocabulary[i] > 0 ? ids(4, Arrays.stream(samples[i]).reduce(1, (a, b) -> a * b), vocabulary[i]).reshape(shape)
            : Tensor.randn(shape));
      }
      for (Module m : List.of(eager, compiled)) {
        m.zeroGrad(true);
        m.namedParameters().forEach((k, v) -> v.requiresGrad(!k.equals(frozen)));
        ((Tensor) method.invoke(m, inputs.toArray())).sum().backward();
      }
      Map<String, Tensor> cp = compiled.namedParameters();
      assertTrue(cp.get(frozen).grad() == null, frozen + " is frozen but got a gradient");
      for (String table : tables) {
        if (!table.equals(frozen)) {
          assertArrayEquals(eager.namedParameters().get(table).grad().toFloatArray(), cp.get(table).grad().toFloatArray(),
              table + " gradient with " + frozen + " frozen");
        }
      }
    }
    for (Module m : List.of(eager, compiled)) {
      m.parameters().forEach(v -> v.requiresGrad(true));
    }
    // ids as floats, of another batch size, one id per sample without its dimension, out of range: refused naming the parameter
    String name = "Kiln" + source + "." + methodName;
    int j = params.length - 1; // an ids input
    String further = names.split(":")[j - 1];
    String sample = joined(samples[j]);
    Object[] args = new Object[params.length];
    for (int i = 0; i < params.length; i++) {
      args[i] = vocabulary[i] > 0 ? Tensor.labels(new int[4 * Arrays.stream(samples[i]).reduce(1, (a, b) -> a * b)])
          .reshape(batched(4, samples[i])) : Tensor.ones(batched(4, samples[i]));
    }
    args[j] = Tensor.ones(batched(4, samples[j]));
    var e = assertThrows(java.lang.reflect.InvocationTargetException.class, () -> method.invoke(compiled, args));
    assertEquals(name + ": " + further + " holds ids (an Embedding looks them up), so it must be a label tensor (Tensor.labels(...)),"
        + " got a float tensor of shape [4, " + sample + "]", e.getCause().getMessage());
    args[j] = Tensor.labels(new int[3 * samples[j][0]]).reshape(batched(3, samples[j]));
    e = assertThrows(java.lang.reflect.InvocationTargetException.class, () -> method.invoke(compiled, args));
    assertEquals(name + " expects " + further + " ids [4, " + sample + "] (one sample [" + sample + "], the batch size 4 of " + first
        + "), got [3, " + sample + "]; every input of one call holds the same samples, so give " + further + " " + first
        + "'s batch size", e.getCause().getMessage());
    int[] outOfRange = new int[4 * samples[j][0]];
    outOfRange[2] = vocabulary[j];
    args[j] = Tensor.labels(outOfRange).reshape(batched(4, samples[j]));
    e = assertThrows(java.lang.reflect.InvocationTargetException.class, () -> method.invoke(compiled, args));
    var eagerError = assertThrows(java.lang.reflect.InvocationTargetException.class, () -> method.invoke(eager, args));
    assertEquals(eagerError.getCause().getMessage(), e.getCause().getMessage());
    assertTrue(e.getCause().getMessage().contains("out of range for " + vocabulary[j] + " embeddings"), e.getCause().getMessage());
    if (samples[1].length == 1 && samples[1][0] == 1) { // one id per sample given as [4]
      for (int i = 0; i < params.length; i++) {
        args[i] = vocabulary[i] > 0 ? Tensor.labels(new int[4 * Arrays.stream(samples[i]).reduce(1, (a, b) -> a * b)])
            .reshape(batched(4, samples[i])) : Tensor.ones(batched(4, samples[i]));
      }
      args[1] = Tensor.labels(0, 1, 2, 3);
      e = assertThrows(java.lang.reflect.InvocationTargetException.class, () -> method.invoke(compiled, args));
      String one = names.split(":")[0];
      assertEquals(name + " expects " + one + " ids [4, 1] (one sample [1], the batch size 4 of " + first
          + "), got [4]; one id per sample is declared @Input({1}): give " + one + ".reshape(-1, 1)",
          e.getCause().getMessage());
    }
  }

  /**
   * Tensors computed from buffers (nanoGPT's {@code bias[:, :, :T, :T]}, a table's slice, {@code bias.eq(0)} as 0/1
   * floats) follow the buffers: after {@code copyFrom} and after {@code loadStateDict} of other values the compiled
   * output is again eager mode's bit for bit, as it is before.
   */
  @Test
  void tensorsComputedFromBuffersFollowTheBuffers() {
    Compilation c = ProcessorTest.compile(ProcessorTest.model("SlicedMasks"));
    assertThat(c).succeededWithoutWarnings();
    ClassLoader loader = new CompiledClasses(c);
    Kiln.manualSeed(5);
    Module eager = factory(loader, "test.SlicedMasks").get();
    Module compiled = factory(loader, "test.KilnSlicedMasks").get();
    compiled.loadStateDict(eager.stateDict());
    Tensor x = Tensor.randn(3, 6, 8);
    assertArrayEquals(eager.forward(x).toFloatArray(), compiled.forward(x).toFloatArray(), "before");
    Map<String, Tensor> state = new java.util.LinkedHashMap<>(eager.stateDict());
    state.replaceAll((k, v) -> v.detach().clone()); // the values before
    Tensor table = Tensor.randn(10, 8);
    Tensor bias = Tensor.ones(10, 10).triu().view(1, 1, 10, 10); // another mask: look ahead only
    eager.stateDict().get("table").copyFrom(table);
    eager.stateDict().get("bias").copyFrom(bias);
    compiled.stateDict().get("table").copyFrom(table);
    assertFalse(Arrays.equals(eager.forward(x).toFloatArray(), compiled.forward(x).toFloatArray()), "only one mask changed");
    compiled.stateDict().get("bias").copyFrom(bias);
    assertArrayEquals(eager.forward(x).toFloatArray(), compiled.forward(x).toFloatArray(), "after copyFrom");
    eager.loadStateDict(state);
    compiled.loadStateDict(state);
    assertArrayEquals(eager.forward(x).toFloatArray(), compiled.forward(x).toFloatArray(), "after loadStateDict");
  }

  /**
   * One id per sample declared {@code @Input({})}, ids {@code [N]} as PyTorch passes them: the rows {@code [N, D]},
   * outputs and gradients eager mode's bit for bit over batch sizes 5 and 3, none for the ids; ids {@code [N, 1]} are
   * refused naming the declared shape.
   */
  @Test
  void oneIdPerSampleWithoutItsDimensionMatchesEager() throws ReflectiveOperationException {
    Compilation c = ProcessorTest.compile(ProcessorTest.model("OneIdRecommender"));
    assertThat(c).succeededWithoutWarnings();
    ClassLoader loader = new CompiledClasses(c);
    Kiln.manualSeed(11);
    Module eager = factory(loader, "test.OneIdRecommender").get();
    Kiln.manualSeed(11);
    Module compiled = factory(loader, "test.KilnOneIdRecommender").get();
    Method method = eager.getClass().getMethod("forwardPair", Tensor.class, Tensor.class);
    for (int batch : new int[] {5, 3}) {
      Kiln.manualSeed(batch);
      float[] features = Tensor.randn(batch, 6).toFloatArray();
      Tensor items = ids(batch, 1, 9).reshape(batch);
      Tensor[] outs = new Tensor[2];
      for (int i = 0; i < 2; i++) {
        Module m = i == 0 ? eager : compiled;
        m.zeroGrad(true);
        outs[i] = (Tensor) method.invoke(m, Tensor.of(features, batch, 6), items);
        outs[i].mul(outs[i]).sum().backward();
      }
      assertArrayEquals(new int[] {batch, 1}, outs[1].shape());
      assertArrayEquals(outs[0].toFloatArray(), outs[1].toFloatArray(), "output");
      Map<String, Tensor> cp = compiled.namedParameters();
      eager.namedParameters().forEach((k, v) -> assertArrayEquals(v.grad().toFloatArray(), cp.get(k).grad().toFloatArray(), k));
      assertTrue(items.grad() == null, "ids got a gradient");
    }
    var e = assertThrows(java.lang.reflect.InvocationTargetException.class,
        () -> method.invoke(compiled, Tensor.randn(4, 6), Tensor.labels(1, 2, 3, 4).reshape(4, 1)));
    assertEquals("KilnOneIdRecommender.forwardPair expects items ids [4] (one sample [], the batch size 4 of features), got [4, 1]",
        e.getCause().getMessage());
  }

  /**
   * A parameter sliced in forward is read in place and its gradient goes to the run it read, zeros elsewhere: the compiled
   * SlicedTables (pos[:, :T], wpe[-T:] read twice, tables[1, 2:2+T], w[:D]) gives the output and, in those runs, the
   * gradients of the compiled UnslicedTables, which declares the parameters at the sizes read, bit for bit.
   */
  @Test
  void slicedParametersAreReadInPlace() {
    Compilation c = ProcessorTest.compile(ProcessorTest.model("SlicedTables"), ProcessorTest.model("UnslicedTables"));
    assertThat(c).succeededWithoutWarnings();
    ClassLoader loader = new CompiledClasses(c);
    Kiln.manualSeed(7);
    Module sliced = factory(loader, "test.KilnSlicedTables").get();
    Module whole = factory(loader, "test.KilnUnslicedTables").get();
    Map<String, Tensor> sp = sliced.namedParameters();
    Map<String, Tensor> wp = whole.namedParameters();
    Map<String, Integer> starts = Map.of("pos", 0, "wpe", 4 * 8, "tables", (10 + 2) * 8, "w", 0);
    try (Kiln.NoGrad unused = Kiln.noGrad()) {
      wp.forEach((k, v) -> {
        float[] run = Arrays.copyOfRange(sp.get(k).toFloatArray(), starts.getOrDefault(k, 0), starts.getOrDefault(k, 0) + v.numel());
        v.copyFrom(Tensor.of(run, v.shape()));
      });
    }
    for (int batch : new int[] {5, 2}) {
      Tensor x = Tensor.randn(batch, 6, 8);
      Tensor xs = Tensor.of(x.toFloatArray(), x.shape()).requiresGrad(true);
      Tensor xw = Tensor.of(x.toFloatArray(), x.shape()).requiresGrad(true);
      sliced.zeroGrad(true);
      whole.zeroGrad(true);
      Tensor outS = sliced.forward(xs);
      Tensor outW = whole.forward(xw);
      assertArrayEquals(outW.toFloatArray(), outS.toFloatArray(), "output");
      Tensor target = Tensor.randn(outS.shape());
      new MSELoss().apply(outS, target).backward();
      new MSELoss().apply(outW, target).backward();
      assertArrayEquals(xw.grad().toFloatArray(), xs.grad().toFloatArray(), "input gradient");
      wp.forEach((k, v) -> {
        float[] expected = new float[sp.get(k).numel()];
        System.arraycopy(v.grad().toFloatArray(), 0, expected, starts.getOrDefault(k, 0), v.numel());
        assertArrayEquals(expected, sp.get(k).grad().toFloatArray(), k + " gradient");
      });
    }
  }

  /**
   * Masks computed in forward (a local holding a buffer's or an input's comparison with a constant, viewed, read by
   * several masked fills; a padding mask made from the ids an Embedding looks up; masked mean pooling, the mask a 0/1
   * value): compiled and eager give the same
   * output, parameter gradients and float input gradient bit for bit, over batch sizes 5 and 3 (padded samples of
   * 1 to S real tokens), and ids or a mask input get no gradient.
   */
  @ParameterizedTest
  @CsvSource({
    "CausalLocal, forward",
    "CausalLocal, forwardPadded",
    "PaddedText, forward",
    "PaddedMeanPool, forward",
    "ActivationMasks, forward",
    "SlicedMasks, forward",
    "WhereBroadcasts, forward",
    "WhereFields, forward",
    "WhereFieldOperands, forward",
    "BufferThresholds, forward",
  })
  void masksComputedInForwardMatchEagerBitForBit(String source, String methodName) throws ReflectiveOperationException {
    Compilation c = ProcessorTest.compile(ProcessorTest.model(source));
    assertThat(c).succeededWithoutWarnings();
    ClassLoader loader = new CompiledClasses(c);
    Kiln.manualSeed(11);
    Module eager = factory(loader, "test." + source).get();
    Kiln.manualSeed(11);
    Module compiled = factory(loader, "test.Kiln" + source).get();
    Method method = Arrays.stream(eager.getClass().getMethods()).filter(m -> m.getName().equals(methodName)
        && m.getParameterTypes()[0] == Tensor.class).findFirst().orElseThrow();
    int[] sample = eager.getClass().getAnnotation(dev.kiln.dsl.Model.class).input();
    boolean ids = sample.length == 1; // PaddedText: token ids, 0 the padding
    for (int batch : new int[] {5, 3}) {
      Kiln.manualSeed(batch);
      Tensor mask = paddingMask(batch, 6);
      List<Object> inputsE = new ArrayList<>();
      List<Object> inputsC = new ArrayList<>();
      Tensor xe;
      Tensor xc;
      if (ids) {
        float[] m = mask.toFloatArray();
        int[] tokens = new int[m.length];
        for (int i = 0; i < tokens.length; i++) {
          tokens[i] = m[i] == 0 ? 0 : 1 + Kiln.generator().nextInt(10);
        }
        xe = Tensor.labels(tokens).reshape(batch, 6);
        xc = xe;
      } else {
        float[] values = Tensor.randn(batched(batch, sample)).toFloatArray();
        xe = Tensor.of(values, batched(batch, sample)).requiresGrad(true);
        xc = Tensor.of(values, batched(batch, sample)).requiresGrad(true);
      }
      inputsE.add(xe);
      inputsC.add(xc);
      if (method.getParameterCount() == 2) {
        inputsE.add(mask);
        inputsC.add(mask);
      }
      eager.zeroGrad(true);
      compiled.zeroGrad(true);
      Tensor outE = (Tensor) method.invoke(eager, inputsE.toArray());
      Tensor outC = (Tensor) method.invoke(compiled, inputsC.toArray());
      assertArrayEquals(outE.toFloatArray(), outC.toFloatArray(), source + "." + methodName + " output");
      Tensor target = Tensor.randn(outE.shape());
      new MSELoss().apply(outE, target).backward();
      new MSELoss().apply(outC, target).backward();
      Map<String, Tensor> cp = compiled.namedParameters();
      eager.namedParameters().forEach((k, v) ->
          assertArrayEquals(v.grad().toFloatArray(), cp.get(k).grad().toFloatArray(), k + " gradient"));
      if (!ids) {
        assertArrayEquals(xe.grad().toFloatArray(), xc.grad().toFloatArray(), "input gradient");
      }
      assertTrue(mask.grad() == null && (!ids || xe.grad() == null), "a mask or the ids got a gradient");
    }
  }

  /** {@code [n, ...sample]}. */
  private static int[] batched(int n, int[] sample) {
    int[] shape = new int[sample.length + 1];
    shape[0] = n;
    System.arraycopy(sample, 0, shape, 1, sample.length);
    return shape;
  }

  /** Sizes joined as a shape's inside: {@code 4, 6}. */
  private static String joined(int[] sizes) {
    return String.join(", ", Arrays.stream(sizes).mapToObj(Integer::toString).toList());
  }

  /** A padding mask [batch, length]: 1 for each sample's first tokens (at least one), 0 after them. */
  private static Tensor paddingMask(int batch, int length) {
    float[] m = new float[batch * length];
    for (int b = 0; b < batch; b++) {
      int real = 1 + Kiln.generator().nextInt(length);
      for (int t = 0; t < real; t++) {
        m[b * length + t] = 1f;
      }
    }
    return Tensor.of(m, batch, length);
  }

  private static Throwable rootCause(Throwable t) {
    return t.getCause() == null ? t : rootCause(t.getCause());
  }

  /**
   * A split's pieces give the input the gradient eager mode's split does, bit for bit: each read piece's gradient
   * placed into zeros (a ReLU's -0 kept, where adding it to zero would make it 0), zeros under the pieces never read.
   */
  @Test
  void splitPiecesGiveTheEagerGradientBitForBit() {
    Compilation c = ProcessorTest.compile(ProcessorTest.model("SignedPieces"));
    assertThat(c).succeededWithoutWarnings();
    ClassLoader loader = new CompiledClasses(c);
    Module eager = factory(loader, "test.SignedPieces").get();
    Module compiled = factory(loader, "test.KilnSignedPieces").get();
    for (int batch : new int[] {5, 2}) {
      Kiln.manualSeed(batch);
      int[] shape = {batch, 3, 8};
      Tensor x = Tensor.randn(shape);
      Tensor g = Tensor.randn(batch, 6);
      Tensor xe = Tensor.of(x.toFloatArray(), shape).requiresGrad(true);
      Tensor xc = Tensor.of(x.toFloatArray(), shape).requiresGrad(true);
      Tensor outE = eager.forward(xe);
      Tensor outC = compiled.forward(xc);
      assertArrayEquals(outE.toFloatArray(), outC.toFloatArray(), "output");
      outE.backward(g);
      outC.backward(g);
      float[] expected = xe.grad().toFloatArray();
      assertArrayEquals(expected, xc.grad().toFloatArray(), "input gradient");
      int negativeZeros = 0;
      for (int i = 0; i < expected.length; i++) {
        int piece = i % 8 / 2;
        if (piece == 1 || piece == 3) {
          assertEquals(0, Float.floatToRawIntBits(xc.grad().toFloatArray()[i]), "an unread piece's gradient at " + i);
        }
        negativeZeros += Float.floatToRawIntBits(expected[i]) == Float.floatToRawIntBits(-0f) ? 1 : 0;
      }
      assertTrue(negativeZeros > 0, "the check covers a -0 (a ReLU's gradient where it was 0, times a negative g)");
    }
  }

  /**
   * GELU's tanh approximation compiled (a layer and F.gelu(x, "tanh"), beside the exact form): the output and every
   * gradient bit for bit eager mode's, as the exact GELU's (the same kernels, the slope kept by the forward), over inputs
   * of a wide range (3 N(0, 1), so that the tails are reached).
   */
  @ParameterizedTest
  @CsvSource({"GeluMlp", "GeluTanhMlp"})
  void compiledGeluIsEagersBitForBit(String name) {
    Compilation c = ProcessorTest.compile(ProcessorTest.model(name));
    assertThat(c).succeededWithoutWarnings();
    ClassLoader loader = new CompiledClasses(c);
    Kiln.manualSeed(11);
    Module eager = factory(loader, "test." + name).get();
    Kiln.manualSeed(11);
    Module compiled = factory(loader, "test.Kiln" + name).get();
    for (int batch : new int[] {7, 3}) {
      Kiln.manualSeed(batch);
      Tensor x = Tensor.randn(batch, 6).mul(3f);
      Tensor xe = Tensor.of(x.toFloatArray(), batch, 6).requiresGrad(true);
      Tensor xc = Tensor.of(x.toFloatArray(), batch, 6).requiresGrad(true);
      eager.zeroGrad(true);
      compiled.zeroGrad(true);
      Tensor outE = eager.forward(xe);
      Tensor outC = compiled.forward(xc);
      assertArrayEquals(outE.toFloatArray(), outC.toFloatArray(), "output");
      Tensor w = Tensor.randn(batch, 3);
      outE.mul(w).sum().backward();
      outC.mul(w).sum().backward();
      assertArrayEquals(xe.grad().toFloatArray(), xc.grad().toFloatArray(), "input gradient");
      Map<String, Tensor> cp = compiled.namedParameters();
      eager.namedParameters().forEach((k, v) -> assertArrayEquals(v.grad().toFloatArray(), cp.get(k).grad().toFloatArray(), k + " gradient"));
      try (var g = Kiln.noGrad()) {
        assertArrayEquals(eager.forward(x).toFloatArray(), compiled.forward(x).toFloatArray(), "output without grad");
      }
    }
  }

  @ParameterizedTest
  @CsvSource({
    "Mlp, test.Mlp, test.KilnMlp, 1:28:28, 10",
    "Models, test.Models.mlp(), test.KilnMlp, 1:28:28, 10",
    "Mixed, test.Mixed, test.KilnMixed, 2:3:4, 5",
    "SmallCnn, test.SmallCnn, test.KilnSmallCnn, 1:8:8, 3",
    "HiddenMlp, test.HiddenMlp, test.KilnHiddenMlp, 6, 3",
    "HiddenCnn, test.HiddenCnn, test.KilnHiddenCnn, 1:6:6, 3",
    "HiddenArray, test.HiddenArray, test.KilnHiddenArray, 5, 7",
    "HiddenSoftmax, test.HiddenSoftmax, test.KilnHiddenSoftmax, 4, 2",
    "Activations, test.Activations, test.KilnActivations, 6, 4",
    "SoftmaxMaps, test.SoftmaxMaps, test.KilnSoftmaxMaps, 2:3:4, 3",
    "AwkwardNames, test.AwkwardNames, test.KilnAwkwardNames, 2:6:6, 4",
    "AssignedInConstructor, test.AssignedInConstructor, test.KilnAssignedInConstructor, 1:8:8, 3",
    "AwkwardNames2, test.AwkwardNames2, test.KilnAwkwardNames2, 2:6:6, 3",
    "AwkwardNames2, test.AwkwardNames2.named(), test.KilnNamed, 4, 2",
    "Residual, test.Residual, test.KilnResidual, 4:6:6, 3",
    "Pools, test.Pools, test.KilnPools, 3:9:11, 3",
    "SequenceCnn, test.SequenceCnn, test.KilnSequenceCnn, 4:32, 3",
    "MobileBlock, test.MobileBlock, test.KilnMobileBlock, 8:12:12, 5",
    "DilatedSequence, test.DilatedSequence, test.KilnDilatedSequence, 4:32, 3",
    "SequenceModels, test.SequenceModels.cnn(), test.KilnCnn, 3:20, 4",
    "Inception, test.Inception, test.KilnInception, 3:8:8, 3",
    "Broadcasts, test.Broadcasts, test.KilnBroadcasts, 4:6:6, 3",
    "SqueezeExcite, test.SqueezeExcite, test.KilnSqueezeExcite, 3:6:6, 4",
    "MnistExample, test.MnistExample, test.KilnMnistExample, 1:12:12, 10",
    "GeluMlp, test.GeluMlp, test.KilnGeluMlp, 6, 3",
    "GeluTanhMlp, test.GeluTanhMlp, test.KilnGeluTanhMlp, 6, 3",
    "PiecewiseMlp, test.PiecewiseMlp, test.KilnPiecewiseMlp, 6, 3",
    "PaddedUnet, test.PaddedUnet, test.KilnPaddedUnet, 2:7:7, 3",
    "NormalizedHeads, test.NormalizedHeads, test.KilnNormalizedHeads, 4:6, 3",
    "Decoder, test.Decoder, test.KilnDecoder, 4:3:3, 3",
    "GroupedDecoder, test.GroupedDecoder, test.KilnGroupedDecoder, 4:5:5, 3",
    "TokenMlp, test.TokenMlp, test.KilnTokenMlp, 6:8, 3",
    "TinyUnet, test.TinyUnet, test.KilnTinyUnet, 2:8:8, 3",
    "Attention, test.Attention, test.KilnAttention, 6:8, 3",
    "MultiHeadAttention, test.MultiHeadAttention, test.KilnMultiHeadAttention, 6:8, 3",
    "ProductEdges, test.ProductEdges, test.KilnProductEdges, 6:8, 3",
    "CausalBlock, test.CausalBlock, test.KilnCausalBlock, 6:8, 3",
    "FusedQkvBlock, test.FusedQkvBlock, test.KilnFusedQkvBlock, 6:8, 3",
    "GatedPieces, test.GatedPieces, test.KilnGatedPieces, 4:16, 3",
    "PositionTable, test.PositionTable, test.KilnPositionTable, 6:8, 3",
    "CenteredGates, test.CenteredGates, test.KilnCenteredGates, 3:6:6, 3",
    "MapReductions, test.MapReductions, test.KilnMapReductions, 3:6:5, 3",
    "BiGru, test.BiGru, test.KilnBiGru, 7:5, 3",
    "SeqRnn, test.SeqRnn, test.KilnSeqRnn, 6:4, 3",
    "LstmLastState, test.LstmLastState, test.KilnLstmLastState, 6:5, 3",
    "BiGruStates, test.BiGruStates, test.KilnBiGruStates, 7:5, 3",
    "CellStates, test.CellStates, test.KilnCellStates, 6:4, 3",
    "FieldProducts, test.FieldProducts, test.KilnFieldProducts, 6:8, 3",
    "TokenMixer, test.TokenMixer, test.KilnTokenMixer, 6:8, 3",
    "TransposedRows, test.TransposedRows, test.KilnTransposedRows, 8:6, 3",
    "CausalLocal, test.CausalLocal, test.KilnCausalLocal, 6:8, 3",
    "SelfAttentionLayers, test.SelfAttentionLayers, test.KilnSelfAttentionLayers, 6:8, 3",
    "EncoderStacks, test.EncoderStacks, test.KilnEncoderStacks, 6:8, 3",
    "CausalSdpa, test.CausalSdpa, test.KilnCausalSdpa, 6:8, 3",
    "MaskedEncoder, test.MaskedEncoder, test.KilnMaskedEncoder, 6:8, 3",
    "DropoutEncoder, test.DropoutEncoder, test.KilnDropoutEncoder, 6:8, 3",
    "CrossAttention, test.CrossAttention, test.KilnCrossAttention, 6:8, 3",
    "EncoderDecoder, test.EncoderDecoder, test.KilnEncoderDecoder, 6:8, 3",
    "CausalDecoderLayer, test.CausalDecoderLayer, test.KilnCausalDecoderLayer, 6:8, 3",
    "DropoutDecoder, test.DropoutDecoder, test.KilnDropoutDecoder, 6:8, 3",
    "Blocks, test.Blocks, test.KilnBlocks, 6:8, 3",
    "BlockLoops, test.BlockLoops, test.KilnBlockLoops, 4, 3",
    "BlockLoops, test.BlockLoops.stack(), test.KilnStack, 6, 6",
    "OwnMethods, test.OwnMethods, test.KilnOwnMethods, 6:8, 3",
    "SlicedMasks, test.SlicedMasks, test.KilnSlicedMasks, 6:8, 3",
    "RuntimeSizes, test.RuntimeSizes, test.KilnRuntimeSizes, 6:8, 3",
    "WhereBroadcasts, test.WhereBroadcasts, test.KilnWhereBroadcasts, 4:8, 3",
    "SlicedParameters, test.SlicedParameters, test.KilnSlicedParameters, 6:8, 3",
    "BufferThresholds, test.BufferThresholds, test.KilnBufferThresholds, 6:8, 3",
    "FieldArithmetic, test.FieldArithmetic, test.KilnFieldArithmetic, 6:8, 3",
    "WhereFields, test.WhereFields, test.KilnWhereFields, 6:8, 3",
    "WhereFieldOperands, test.WhereFieldOperands, test.KilnWhereFieldOperands, 6:8, 3",
    "GroupNormNet, test.GroupNormNet, test.KilnGroupNormNet, 3:6:6, 3",
    "ExtremaNorms, test.ExtremaNorms, test.KilnExtremaNorms, 3:8, 3",
    "FunctionalConv, test.FunctionalConv, test.KilnFunctionalConv, 3:8:8, 3",
    "FunctionalGroupNorm, test.FunctionalGroupNorm, test.KilnFunctionalGroupNorm, 4:5:5, 3",
    "WideDecoder, test.WideDecoder, test.KilnWideDecoder, 3:4:4, 3",
  })
  void compiledMatchesEager(String source, String eagerName, String compiledName, String sampleShape, int classes) {
    Compilation c = ProcessorTest.compile(ProcessorTest.model(source));
    assertThat(c).succeededWithoutWarnings();
    ClassLoader loader = new CompiledClasses(c);
    Supplier<Module> eagerFactory = factory(loader, eagerName);
    Supplier<Module> compiledFactory = factory(loader, compiledName);
    String[] dims = sampleShape.split(":");
    int batch = 7;
    int[] shape = new int[dims.length + 1];
    shape[0] = batch;
    for (int i = 0; i < dims.length; i++) {
      shape[i + 1] = Integer.parseInt(dims[i]);
    }

    Kiln.manualSeed(11);
    Module eager = eagerFactory.get();
    Kiln.manualSeed(11);
    Module compiled = compiledFactory.get();
    Map<String, Tensor> ep = eager.namedParameters();
    Map<String, Tensor> cp = compiled.namedParameters();
    assertEquals(List.copyOf(ep.keySet()), List.copyOf(cp.keySet()), "state dict keys");
    ep.forEach((k, v) -> assertArrayEquals(v.toFloatArray(), cp.get(k).toFloatArray(), k + " initial values"));

    // One forward/backward with a random input that requires grad (so dx is checked too).
    Kiln.manualSeed(3);
    Tensor x = Tensor.randn(shape);
    int[] labels = new int[batch];
    for (int i = 0; i < batch; i++) {
      labels[i] = Kiln.generator().nextInt(classes);
    }
    Tensor y = Tensor.labels(labels);
    Tensor xe = Tensor.of(x.toFloatArray(), shape).requiresGrad(true);
    Tensor xc = Tensor.of(x.toFloatArray(), shape).requiresGrad(true);
    Kiln.manualSeed(100); // the same dropout masks for both
    Tensor outE = eager.forward(xe);
    Kiln.manualSeed(100);
    Tensor outC = compiled.forward(xc);
    assertArrayEquals(outE.shape(), outC.shape());
    assertClose("output", outC.toFloatArray(), outE.toFloatArray(), 1e-5);
    Tensor lossE = new CrossEntropyLoss().apply(outE, y);
    Tensor lossC = new CrossEntropyLoss().apply(outC, y);
    assertEquals(lossE.item(), lossC.item(), 1e-5 * Math.abs(lossE.item()));
    lossE.backward();
    lossC.backward();
    assertClose("input gradient", xc.grad().toFloatArray(), xe.grad().toFloatArray(), 1e-5);
    ep.forEach((k, v) -> {
      if (v.grad() == null) { // not used by forward's result (a model whose forward returns a hidden output)
        assertTrue(cp.get(k).grad() == null, k + " has a gradient in the compiled model only");
        return;
      }
      assertNotNull(cp.get(k).grad(), k + " has no gradient in the compiled model");
      assertClose(k + " gradient", cp.get(k).grad().toFloatArray(), v.grad().toFloatArray(), 1e-5);
    });

    // Ten SGD-with-momentum steps on the same batches.
    SGD optE = new SGD(eager.parameters(), 0.05).momentum(0.9);
    SGD optC = new SGD(compiled.parameters(), 0.05).momentum(0.9);
    for (int step = 0; step < 10; step++) {
      Tensor xs = Tensor.randn(shape);
      for (var pair : List.of(List.of(eager, optE), List.of(compiled, optC))) {
        Module m = (Module) pair.get(0);
        SGD opt = (SGD) pair.get(1);
        opt.zeroGrad();
        Kiln.manualSeed(200 + step);
        new CrossEntropyLoss().apply(m.forward(xs), y).backward();
        opt.step();
      }
    }
    ep.forEach((k, v) -> assertClose(k + " after 10 steps", cp.get(k).toFloatArray(), v.toFloatArray(), 1e-4));
    Map<String, Tensor> es = eager.stateDict();
    Map<String, Tensor> cs = compiled.stateDict();
    assertEquals(List.copyOf(es.keySet()), List.copyOf(cs.keySet()), "state dict keys (parameters and buffers)");
    es.forEach((k, v) -> assertClose(k + " (state) after 10 steps", cs.get(k).toFloatArray(), v.toFloatArray(), 1e-4));

    // Evaluation mode (running statistics, no dropout) gives the same outputs too.
    eager.eval();
    compiled.eval();
    try (var g = Kiln.noGrad()) {
      assertClose("eval output", compiled.forward(x).toFloatArray(), eager.forward(x).toFloatArray(), 1e-5);
    }
    compiled.train();

    // Evaluation under noGrad records nothing; a stale backward is refused.
    try (var g = Kiln.noGrad()) {
      assertTrue(!compiled.forward(x).requiresGrad());
    }
    // The compiled model reuses its activation buffers: two forwards may await their backwards, a third discards the first's.
    Tensor first = compiled.forward(x);
    compiled.forward(x);
    compiled.forward(x);
    Tensor stale = new CrossEntropyLoss().apply(first, y);
    var e = assertThrows(IllegalStateException.class, stale::backward);
    assertTrue(e.getMessage().contains("were overwritten by later forwards"), e.getMessage());
    var bad = assertThrows(IllegalArgumentException.class, () -> compiled.forward(Tensor.zeros(2, 3)));
    assertTrue(bad.getMessage().contains("got [2, 3]"), bad.getMessage());
    int[] sample = Arrays.copyOfRange(shape, 1, shape.length); // one sample without its batch dimension
    var unbatched = assertThrows(IllegalArgumentException.class, () -> compiled.forward(Tensor.zeros(sample)));
    assertTrue(unbatched.getMessage().endsWith("; for one sample, give it a batch dimension: x.unsqueeze(0)"),
        unbatched.getMessage());
  }

  /**
   * The tutorials' network by hand ({@code x @ w1}, ReLU, {@code @ w2}, weights {@code Tensor.rand}): a
   * regression, so a mean squared error. Compiled and eager agree on the output, the loss, the input's and
   * both weights' gradients and after ten SGD steps (the tutorial's learning rate), and the loss falls;
   * the state-dict keys are the tutorial's attribute names. A weight frozen ({@code requiresGrad(false)})
   * gets no gradient, and the other the eager one.
   */
  @Test
  void theTutorialsNetworkByHandMatchesEager() {
    Compilation c = ProcessorTest.compile(ProcessorTest.model("ByHand"));
    assertThat(c).succeededWithoutWarnings();
    ClassLoader loader = new CompiledClasses(c);
    Kiln.manualSeed(11);
    Module eager = factory(loader, "test.ByHand").get();
    Kiln.manualSeed(11);
    Module compiled = factory(loader, "test.KilnByHand").get();
    assertEquals(List.of("input_to_hidden_layer", "hidden_to_output_layer"), List.copyOf(compiled.namedParameters().keySet()));
    Map<String, Tensor> ep = eager.namedParameters();
    Map<String, Tensor> cp = compiled.namedParameters();
    ep.forEach((k, v) -> assertArrayEquals(v.toFloatArray(), cp.get(k).toFloatArray(), k + " initial values"));
    // the tutorial's data: y = x1 + x2
    Tensor x = Tensor.of(new float[] {1, 2, 3, 4, 5, 6, 7, 8}, 4, 2);
    Tensor y = Tensor.of(new float[] {3, 7, 11, 15}, 4, 1);
    Tensor xe = Tensor.of(x.toFloatArray(), 4, 2).requiresGrad(true);
    Tensor xc = Tensor.of(x.toFloatArray(), 4, 2).requiresGrad(true);
    Tensor outE = eager.forward(xe);
    Tensor outC = compiled.forward(xc);
    assertArrayEquals(new int[] {4, 1}, outC.shape());
    assertClose("output", outC.toFloatArray(), outE.toFloatArray(), 1e-6);
    Tensor lossE = new MSELoss().apply(outE, y);
    Tensor lossC = new MSELoss().apply(outC, y);
    assertEquals(lossE.item(), lossC.item(), 1e-6 * lossE.item());
    lossE.backward();
    lossC.backward();
    assertClose("input gradient", xc.grad().toFloatArray(), xe.grad().toFloatArray(), 1e-6);
    ep.forEach((k, v) -> assertClose(k + " gradient", cp.get(k).grad().toFloatArray(), v.grad().toFloatArray(), 1e-6));

    SGD optE = new SGD(eager.parameters(), 0.001);
    SGD optC = new SGD(compiled.parameters(), 0.001);
    float first = 0, last = 0;
    for (int step = 0; step < 10; step++) {
      for (var pair : List.of(List.of(eager, optE), List.of(compiled, optC))) {
        Module m = (Module) pair.get(0);
        SGD opt = (SGD) pair.get(1);
        opt.zeroGrad();
        Tensor loss = new MSELoss().apply(m.forward(x), y);
        loss.backward();
        opt.step();
        if (m == compiled) {
          last = loss.item();
          first = step == 0 ? last : first;
        }
      }
    }
    assertTrue(last < first / 2, "the loss fell from " + first + " to " + last + " only");
    ep.forEach((k, v) -> assertClose(k + " after 10 steps", cp.get(k).toFloatArray(), v.toFloatArray(), 1e-5));

    for (Module m : List.of(eager, compiled)) { // the first weight frozen
      m.namedParameters().forEach((k, v) -> {
        v.requiresGrad(!k.equals("input_to_hidden_layer"));
        v.setGrad(null);
      });
      new MSELoss().apply(m.forward(x), y).backward();
    }
    assertTrue(cp.get("input_to_hidden_layer").grad() == null, "a frozen weight got a gradient");
    assertClose("the trained weight's gradient", cp.get("hidden_to_output_layer").grad().toFloatArray(),
        ep.get("hidden_to_output_layer").grad().toFloatArray(), 1e-6);
  }

  /**
   * A model over token ids (an Embedding first, then a position table, causal attention and a head):
   * the compiled forward gathers the weight's rows, the backward adds each position's gradient into
   * its row, none into the padding row (id 0, which the batches contain). The same outputs,
   * gradients and ten SGD steps as eager mode; eager's errors for a float input and an id out of range.
   */
  @ParameterizedTest
  @CsvSource({
    "TinyGpt, test.TinyGpt, test.KilnTinyGpt, 6, 11, 0",
    "MeanPool, test.MeanPool, test.KilnMeanPool, 6, 11, 0",
    "TokenBag, test.TokenBag.bag(), test.KilnBag, 5, 10, 9",
    "TokenGru, test.TokenGru.gru(), test.KilnGru, 6, 11, 0",
    "PaddedText, test.PaddedText, test.KilnPaddedText, 6, 11, 0",
    "PaddedMeanPool, test.PaddedMeanPool, test.KilnPaddedMeanPool, 6, 11, 0",
    "PositionGpt, test.PositionGpt, test.KilnPositionGpt, 6, 11, 0",
    "SizedPositions, test.SizedPositions, test.KilnSizedPositions, 6, 11, 0",
  })
  void idsModelMatchesEager(String source, String eagerName, String compiledName, int length, int vocabulary, int paddingRow) {
    Compilation c = ProcessorTest.compile(ProcessorTest.model(source));
    assertThat(c).succeededWithoutWarnings();
    ClassLoader loader = new CompiledClasses(c);
    Kiln.manualSeed(11);
    Module eager = factory(loader, eagerName).get();
    Kiln.manualSeed(11);
    Module compiled = factory(loader, compiledName).get();
    Map<String, Tensor> ep = eager.namedParameters();
    Map<String, Tensor> cp = compiled.namedParameters();
    assertEquals(List.copyOf(ep.keySet()), List.copyOf(cp.keySet()), "state dict keys");
    ep.forEach((k, v) -> assertArrayEquals(v.toFloatArray(), cp.get(k).toFloatArray(), k + " initial values"));

    Kiln.manualSeed(3);
    Tensor y = Tensor.labels(0, 1, 2, 1, 0, 2, 1);
    Tensor ids = ids(7, length, vocabulary);
    Tensor outE = eager.forward(ids);
    Tensor outC = compiled.forward(ids);
    assertArrayEquals(new int[] {7, 3}, outC.shape());
    assertClose("output", outC.toFloatArray(), outE.toFloatArray(), 1e-5);
    new CrossEntropyLoss().apply(outE, y).backward();
    new CrossEntropyLoss().apply(outC, y).backward();
    ep.forEach((k, v) -> assertClose(k + " gradient", cp.get(k).grad().toFloatArray(), v.grad().toFloatArray(), 1e-5));
    Tensor table = cp.values().stream().filter(t -> t.dim() == 2 && t.size(0) == vocabulary).findFirst().orElseThrow();
    int dim = table.size(1);
    float[] rows = table.grad().toFloatArray();
    assertArrayEquals(new float[dim], Arrays.copyOfRange(rows, paddingRow * dim, (paddingRow + 1) * dim), "the padding row's gradient");
    double others = 0;
    for (int i = 0; i < rows.length; i++) {
      others += i / dim == paddingRow ? 0 : Math.abs(rows[i]);
    }
    assertTrue(others > 0, "the other rows have no gradient");
    assertTrue(ids.grad() == null, "ids got a gradient");

    SGD optE = new SGD(eager.parameters(), 0.05).momentum(0.9);
    SGD optC = new SGD(compiled.parameters(), 0.05).momentum(0.9);
    for (int step = 0; step < 10; step++) {
      Tensor batch = ids(7, length, vocabulary);
      for (var pair : List.of(List.of(eager, optE), List.of(compiled, optC))) {
        SGD opt = (SGD) pair.get(1);
        opt.zeroGrad();
        new CrossEntropyLoss().apply(((Module) pair.get(0)).forward(batch), y).backward();
        opt.step();
      }
    }
    ep.forEach((k, v) -> assertClose(k + " after 10 steps", cp.get(k).toFloatArray(), v.toFloatArray(), 1e-4));
    try (var g = Kiln.noGrad()) {
      assertClose("output after training", compiled.forward(ids).toFloatArray(), eager.forward(ids).toFloatArray(), 1e-5);
      assertFalse(compiled.forward(ids).requiresGrad());
    }

    // eager's errors, word for word: a float input, an id out of range; then the compiled shape check
    int[] outOfRange = new int[length];
    outOfRange[2] = vocabulary;
    for (Tensor bad : List.of(Tensor.randn(7, length), Tensor.labels(outOfRange).reshape(1, length))) {
      var e = assertThrows(IllegalArgumentException.class, () -> eager.forward(bad));
      var k = assertThrows(IllegalArgumentException.class, () -> compiled.forward(bad));
      assertEquals(e.getMessage(), k.getMessage());
    }
    var shape = assertThrows(IllegalArgumentException.class, () -> compiled.forward(Tensor.labels(1, 2, 3).reshape(1, 3)));
    assertEquals(compiledName.substring(5) + " expects ids [N, " + length + "], got [1, 3]", shape.getMessage());
    // summary() runs the declaration's forward on ids of the declared shape
    assertTrue(compiled.summaryOfIds().contains("Embedding"), compiled.summaryOfIds());
    assertEquals(compiled.summaryOfIds(), compiled.summary(), "summary() of a model over ids feeds ids");
  }

  /**
   * The classic text classifier, Embedding -> two-layer LSTM (dropout 0.25 between its layers) -> last step ->
   * Linear, compiled: in training (the same dropout draws from the same seed), the outputs, losses and every
   * parameter's gradient are eager mode's, step after step of SGD; in evaluation (no dropout) the outputs too;
   * the LSTM's own {@code train()} mode decides its dropout, as eager's does.
   */
  @Test
  void textLstmMatchesEagerInTrainingAndEvaluation() {
    Compilation c = ProcessorTest.compile(ProcessorTest.model("TextLstm"));
    assertThat(c).succeededWithoutWarnings();
    ClassLoader loader = new CompiledClasses(c);
    Kiln.manualSeed(11);
    Module eager = factory(loader, "test.TextLstm").get();
    Kiln.manualSeed(11);
    Module compiled = factory(loader, "test.KilnTextLstm").get();
    Map<String, Tensor> ep = eager.namedParameters();
    Map<String, Tensor> cp = compiled.namedParameters();
    assertEquals(List.of("tok.weight", "lstm.weight_ih_l0", "lstm.weight_hh_l0", "lstm.bias_ih_l0", "lstm.bias_hh_l0",
        "lstm.weight_ih_l1", "lstm.weight_hh_l1", "lstm.bias_ih_l1", "lstm.bias_hh_l1", "head.weight", "head.bias"),
        List.copyOf(cp.keySet()), "state dict keys");
    ep.forEach((k, v) -> assertArrayEquals(v.toFloatArray(), cp.get(k).toFloatArray(), k + " initial values"));

    Kiln.manualSeed(3);
    Tensor y = Tensor.labels(0, 1, 2, 1, 0, 2, 1);
    SGD optE = new SGD(eager.parameters(), 0.1).momentum(0.9);
    SGD optC = new SGD(compiled.parameters(), 0.1).momentum(0.9);
    for (int step = 0; step < 6; step++) {
      Tensor ids = ids(7, 6, 11);
      float[][] outs = new float[2][];
      float[] losses = new float[2];
      int i = 0;
      for (var pair : List.of(List.of(eager, optE), List.of(compiled, optC))) {
        SGD opt = (SGD) pair.get(1);
        opt.zeroGrad();
        Kiln.manualSeed(300 + step); // the same dropout masks for both
        Tensor out = ((Module) pair.get(0)).forward(ids);
        Tensor loss = new CrossEntropyLoss().apply(out, y);
        loss.backward();
        outs[i] = out.toFloatArray();
        losses[i++] = loss.item();
      }
      assertClose("output at step " + step, outs[1], outs[0], 1e-5);
      assertEquals(losses[0], losses[1], 1e-5 * Math.abs(losses[0]), "loss at step " + step);
      int s = step;
      ep.forEach((k, v) -> assertClose(k + " gradient at step " + s, cp.get(k).grad().toFloatArray(), v.grad().toFloatArray(), 1e-5));
      optE.step();
      optC.step();
    }
    ep.forEach((k, v) -> assertClose(k + " after 6 steps", cp.get(k).toFloatArray(), v.toFloatArray(), 1e-4));

    Tensor ids = ids(7, 6, 11);
    Kiln.manualSeed(5);
    float[] training = compiled.forward(ids).toFloatArray();
    compiled.eval();
    eager.eval();
    float[] evaluation;
    try (var g = Kiln.noGrad()) {
      evaluation = compiled.forward(ids).toFloatArray();
      assertClose("eval output", evaluation, eager.forward(ids).toFloatArray(), 1e-5);
    }
    assertTrue(relativeError(training, evaluation) > 1e-3, "dropout between the layers changed nothing in training");
    // the LSTM's own mode: in training alone, it drops as eager's does
    compiled.getSubmodule("lstm").train();
    eager.getSubmodule("lstm").train();
    Kiln.manualSeed(6);
    float[] lstmTraining = compiled.forward(ids).toFloatArray();
    Kiln.manualSeed(6);
    assertClose("output with the LSTM alone in training", lstmTraining, eager.forward(ids).toFloatArray(), 1e-5);
    assertTrue(relativeError(lstmTraining, evaluation) > 1e-3, "the LSTM's own train() mode was not followed");
  }

  /**
   * A recurrent layer's last states read in a compiled forward ({@code forwardWithState}): an LSTM classifier on
   * {@code h_n[-1]} (dropout between its layers), a bidirectional GRU's two last states beside its averaged output (the
   * states' gradient and the output's meeting at each direction's last step), LSTM's {@code c_n} below the top layer
   * and an RNN's {@code h_n} read in one expression; a token-mixing MLP's weights on the left of products ({@code w.matmul(x)},
   * eager's batched products with the weight repeated, its gradient summed over the batch as eager's expand sums it);
   * the tutorials' explicit zero initial states (an LSTM given h0 and c0 built in forward, a bidirectional GRU its h0
   * inline), compiled as the call without them, against eager mode given the same zeros.
   * The outputs, the loss, the input's and every parameter's gradient
   * are eager mode's bit for bit, in training (the same dropout draws) step after step of SGD, and in evaluation.
   */
  @ParameterizedTest
  @CsvSource({"LstmLastState, 6:5", "BiGruStates, 7:5", "CellStates, 6:4", "TokenMixer, 6:8", "TutorialLstm, 6:5",
    "TutorialGru, 7:5"})
  void lastStatesMatchEagerBitForBit(String model, String sampleShape) {
    matchesEagerBitForBit(model, sampleShape);
  }

  /**
   * Recurrent layers started from initial states other than zeros: a GRU encoder's h_n starting a GRU decoder
   * (seq2seq), a bidirectional LSTM encoder's h_n and c_n starting a two-layer LSTM decoder whose own c_n is read, and
   * states computed from activations (a Linear of the sequence's mean viewed as [1, N, H] and tanh'd, two unsqueezed),
   * one such state held in a local and read by two layers (its projection run once, its gradient both layers'), states
   * of several layers built by hand ({@code proj.apply(f).view(-1, L, H).transpose(0, 1)}), and an LSTM given one state
   * and zeros or null for the other: values and gradients (the states' flowing back into the encoder, the projections)
   * eager mode's bit for bit.
   */
  @ParameterizedTest
  @CsvSource({"Seq2SeqGru, 6:5", "Seq2SeqLstm, 6:5", "StateFromFeatures, 6:5", "SharedState, 6:5", "LayerStates, 6:5", "MixedStates, 6:5"})
  void initialStatesMatchEagerBitForBit(String model, String sampleShape) {
    matchesEagerBitForBit(model, sampleShape);
  }

  /**
   * An Embedding over ids built in forward ({@code wpe.apply(pos)}, {@code pos = Tensor.labels(...)}), its rows added
   * to values of the batch: outputs and gradients eager mode's bit for bit, viewed {@code [1, S]} and on the left of
   * the add, the table looked up twice.
   */
  @Test
  void rowsOfIdsBuiltInForwardMatchEagerBitForBit() {
    matchesEagerBitForBit("PositionRows", "5:4");
  }

  /**
   * Gradient accumulation: three forwards and backwards without zeroGrad before each SGD step (micro-batches, one
   * optimizer step). Each backward adds its parameters' gradients to those already there as eager's engine does, a
   * parameter's contributions summed first and their total then added ({@code grad + (g1 + g2)}, PyTorch's
   * AccumulateGrad), so the accumulated gradients are eager mode's bit for bit: an MLP, a CNN with batch norm, an LSTM
   * over an Embedding, GPT-2's two tables, embedding bags (an id's rows summed before they meet the gradient),
   * transformer blocks (position tables, layer norms, causal attention); and the sum of each backward's own gradients.
   */
  @ParameterizedTest
  @CsvSource({"Mlp, 1:28:28", "SmallCnn, 1:8:8", "TextLstm, ids11:6", "PositionGpt, ids11:6", "Blocks, 6:8",
    "PositionRows, 5:4", "LstmLastState, 6:5", "BagText, ids11:5", "FusedQkvBlock, 6:8", "CausalBlock, 6:8"})
  void accumulatedGradientsMatchEagerBitForBit(String model, String sampleShape) {
    matchesEagerBitForBit(model, sampleShape, 3);
    accumulatesItsOwnTotals(model, sampleShape);
  }

  /**
   * Gradient accumulation on models whose gradients are eager mode's to a tolerance only (TinyGpt's single-head attention
   * scores): three backwards without zeroGrad give, bit for bit, the three gradients each backward gives alone (after
   * zeroGrad(true)) added in turn, {@code (t1 + t2) + t3}: each backward's total added to the gradient in one pass.
   */
  @ParameterizedTest
  @CsvSource({"TinyGpt, ids11:6", "Mlp, 1:28:28"})
  void accumulatedGradientsAreTheSumOfEachBackwards(String model, String sampleShape) {
    accumulatesItsOwnTotals(model, sampleShape);
  }

  /** Compiled {@code model}: three backwards without zeroGrad against each one's gradients alone, summed in float in turn. */
  static void accumulatesItsOwnTotals(String model, String sampleShape) {
    Compilation c = ProcessorTest.compile(ProcessorTest.model(model));
    assertThat(c).succeededWithoutWarnings();
    Kiln.manualSeed(11);
    Module compiled = factory(new CompiledClasses(c), "test.Kiln" + model).get();
    Map<String, Tensor> cp = compiled.namedParameters();
    int vocabulary = sampleShape.startsWith("ids") ? Integer.parseInt(sampleShape.substring(3, sampleShape.indexOf(':'))) : 0;
    String sample = vocabulary > 0 ? sampleShape.substring(sampleShape.indexOf(':') + 1) : sampleShape;
    int[] shape = Arrays.stream(("5:" + sample).split(":")).mapToInt(Integer::parseInt).toArray();
    Tensor y = Tensor.labels(0, 2, 1, 1, 0);
    Kiln.manualSeed(3);
    List<Tensor> inputs = new ArrayList<>();
    for (int micro = 0; micro < 3; micro++) {
      inputs.add(vocabulary > 0 ? ids(shape[0], shape[1], vocabulary) : Tensor.randn(shape));
    }
    Map<String, float[]> summed = new HashMap<>();
    for (int micro = 0; micro < 3; micro++) { // each backward alone
      compiled.zeroGrad(true);
      Kiln.manualSeed(300 + micro);
      new CrossEntropyLoss().apply(compiled.forward(inputs.get(micro)), y).backward();
      cp.forEach((k, v) -> {
        float[] g = v.grad().toFloatArray();
        float[] sum = summed.putIfAbsent(k, g);
        for (int i = 0; sum != null && i < g.length; i++) {
          sum[i] += g[i];
        }
      });
    }
    compiled.zeroGrad(true);
    for (int micro = 0; micro < 3; micro++) { // accumulated
      Kiln.manualSeed(300 + micro);
      new CrossEntropyLoss().apply(compiled.forward(inputs.get(micro)), y).backward();
    }
    List<String> differ = new ArrayList<>();
    cp.forEach((k, v) -> {
      if (!Arrays.equals(summed.get(k), v.grad().toFloatArray())) {
        differ.add(k);
      }
    });
    assertTrue(differ.isEmpty(), model + ": accumulated gradients not the sum of each backward's: " + differ);
  }

  /**
   * {@code EmbeddingBag} over the input ids, each sample one bag (PyTorch's 2-D input): sum, mean and max (the last two
   * without the padding id), their outputs and the tables' gradients eager mode's bit for bit (the same kernels).
   */
  @Test
  void bagsOfTheInputIdsMatchEagerBitForBit() {
    matchesEagerBitForBit("BagText", "ids11:5");
  }

  /**
   * GPT-2's {@code x = wte(ids) + wpe(arange(0, t))} compiled: the outputs, the loss and both tables' gradients eager
   * mode's bit for bit over four SGD steps; the position rows past S (the block size is 8) get none.
   */
  @Test
  void gptPositionsMatchEagerBitForBit() {
    Module compiled = matchesEagerBitForBit("PositionGpt", "ids11:6");
    float[] wpe = compiled.namedParameters().get("wpe.weight").grad().toFloatArray();
    assertArrayEquals(new float[2 * 8], Arrays.copyOfRange(wpe, 6 * 8, 8 * 8), "rows past the positions");
    double used = 0;
    for (int i = 0; i < 6 * 8; i++) {
      used += Math.abs(wpe[i]);
    }
    assertTrue(used > 0, "the positions' rows got no gradient");
  }

  /**
   * Tensor fields repeated over the batch (parameters {@code [D]}, {@code [T, D]}, {@code [1, T, D]}, sliced or whole, by
   * add, sub on either side, mul, div, a fused ReLU, a product): outputs and every gradient eager mode's bit for bit, the
   * gradient of a suffix field summed in float row by row as eager's broadcast sums it ({@code sumRowsBackward}), one of
   * {@code [1, T, D]} in double as eager's repeated kernels; with them the models whose blocks hold such fields (position
   * tables, causal masks, gains, prototypes, a buffer compared).
   */
  @ParameterizedTest
  @CsvSource({"FieldArithmetic, 6:8", "SlicedParameters, 6:8", "FieldProducts, 6:8", "PositionTable, 6:8", "Blocks, 6:8", "CausalBlock, 6:8", "FusedQkvBlock, 6:8", "TokenMixer, 6:8", "TransposedRows, 8:6", "BufferThresholds, 6:8", "CosinePrototypes, 6",
    "WhereFieldOperands, 6:8", "GatheredParameters, 6:8", "FunctionalConv, 3:8:8",
    "FunctionalGroupNorm, 4:5:5", "WideDecoder, 3:4:4", "ConvBlocks, 4:5:5"})
  void tensorFieldGradientsMatchEagerBitForBit(String model, String sampleShape) {
    matchesEagerBitForBit(model, sampleShape);
  }

  /**
   * One value read by both operands of a product and again by a second ({@code att = h @ h^T; y = att @ h}): its gradient
   * adds the three products' in the order eager's engine adds them (the later product's first, then the first product's
   * left operand's, then its transposed right's), so the input's and every parameter's gradient are eager mode's bit for bit.
   */
  @ParameterizedTest
  @CsvSource({"SelfProducts, 6:8", "SquareSelfProducts, 6:6", "InputSelfProducts, 6:8"})
  void valueReadByTwoProductsMatchesEagerBitForBit(String model, String sampleShape) {
    matchesEagerBitForBit(model, sampleShape);
  }

  /**
   * Values read by many steps ({@code p}, {@code q} of ManyReaders: a dozen readers each, self-products among them): the
   * compiled backward runs its steps in eager's engine's order, so each value's gradients are summed in eager's order and
   * the input's and every parameter's gradient are eager mode's bit for bit (in program order they were an ulp off).
   */
  @ParameterizedTest
  @CsvSource({"ManyReaders, 6", "TiedNearestCode, 6:8", "LeftViewProducts, 6:6"})
  void valueReadByManyStepsMatchesEagerBitForBit(String model, String sampleShape) {
    matchesEagerBitForBit(model, sampleShape);
  }

  /**
   * Parameter fields (whole, a contiguous slice, a strided slice) whose gradient is {@code -(+0)} where forward reads
   * nothing of what they were subtracted from: eager's engine takes a first gradient as it is, a -0 kept, and adds later
   * ones (after {@code zeroGrad()}, to +0: 0 then); the compiled backward writes a field's gradient where the parameter
   * had none, adds it otherwise. Bit for bit over four SGD steps, and the first step's -0s checked to be there.
   */
  @Test
  void negativeZeroFieldGradientsMatchEager() {
    matchesEagerBitForBit("NegativeZeroFields", "6:8");
    Compilation c = ProcessorTest.compile(ProcessorTest.model("NegativeZeroFields"));
    ClassLoader loader = new CompiledClasses(c);
    Tensor x = Tensor.randn(5, 6, 8);
    Map<String, float[]> eager = new HashMap<>();
    for (String name : List.of("test.NegativeZeroFields", "test.KilnNegativeZeroFields")) {
      Kiln.manualSeed(11);
      Module m = factory(loader, name).get();
      new CrossEntropyLoss().apply(m.forward(x), Tensor.labels(0, 2, 1, 1, 0)).backward();
      for (String k : List.of("a", "b", "c")) {
        float[] g = m.namedParameters().get(k).grad().toFloatArray();
        int[] bits = new int[g.length];
        for (int i = 0; i < g.length; i++) {
          bits[i] = Float.floatToRawIntBits(g[i]);
        }
        if (name.startsWith("test.Kiln")) {
          int[] expected = new int[g.length];
          float[] e = eager.get(k);
          int negativeZeros = 0;
          for (int i = 0; i < e.length; i++) {
            expected[i] = Float.floatToRawIntBits(e[i]);
            negativeZeros += expected[i] == Float.floatToRawIntBits(-0f) ? 1 : 0;
          }
          assertEquals(6 * 4, negativeZeros, k + ": the unread half of the rows it was subtracted from");
          assertArrayEquals(expected, bits, k + " gradient's bits");
        } else {
          eager.put(k, g);
        }
      }
    }
  }

  /**
   * An Embedding over ids an argmax computed in forward (a greedy decoder's {@code emb.apply(logits.argmax(-1))}): outputs,
   * the input's and every parameter's gradient eager mode's bit for bit over four SGD steps (the table's rows get theirs,
   * no gradient flows back through the argmax; the logits get theirs from their other reader).
   */
  @Test
  void writesByIndexMatchEagerBitForBit() {
    matchesEagerBitForBit("ScatterWrites", "6");
  }

  /** index_select at constant ids (IndexSelects): outputs and every gradient eager mode's bit for bit, a repeated id's gradients added. */
  @Test
  void indexSelectsMatchEagerBitForBit() {
    matchesEagerBitForBit("IndexSelects", "6");
  }

  @Test
  void embeddingOfArgmaxIdsMatchesEagerBitForBit() {
    matchesEagerBitForBit("GreedyIds", "6:8");
  }

  /**
   * Parameters sliced into runs at two and three strides (two or three dimensions narrowed), and an entry selected of a
   * narrowed table: values and gradients eager mode's bit for bit over SGD steps, each gradient added to the runs it came
   * from.
   */
  @Test
  void parametersSlicedAtSeveralStridesMatchEagerBitForBit() {
    matchesEagerBitForBit("StridedParameters", "6:8");
  }

  /**
   * Wheres of buffers alone (no batch, as eager's): values and gradients eager mode's bit for bit over SGD steps, and again
   * after a buffer is written in place and after one is replaced by a load (the where computed again, as eager computes it
   * at each call).
   */
  @Test
  void whereOfBuffersAloneMatchesEagerAndFollowsItsBuffers() {
    Module compiled = matchesEagerBitForBit("WhereOfBuffers", "6:8");
    ClassLoader loader = compiled.getClass().getClassLoader();
    Kiln.manualSeed(11);
    Module eager = factory(loader, "test.WhereOfBuffers").get();
    eager.loadStateDict(compiled.stateDict());
    Tensor x = Tensor.randn(5, 6, 8);
    assertArrayEquals(eager.forward(x).toFloatArray(), compiled.forward(x).toFloatArray());
    for (Module m : List.of(eager, compiled)) {
      m.namedBuffers().get("near").copyFrom(Tensor.ones(6, 8).mul(3f)); // written in place
    }
    assertArrayEquals(eager.forward(x).toFloatArray(), compiled.forward(x).toFloatArray());
    Map<String, Tensor> state = new HashMap<>(eager.stateDict());
    state.put("keep", Tensor.ones(6, 8).triu());
    state.put("far", Tensor.randn(8));
    eager.loadStateDict(state);
    compiled.loadStateDict(state);
    float[] after = compiled.forward(x).toFloatArray();
    assertArrayEquals(eager.forward(x).toFloatArray(), after);
  }

  /**
   * Wheres of tensor fields alone with parameters among them (one read by two steps): values and gradients eager mode's
   * bit for bit over SGD steps, the parameters' through eager's where backward.
   */
  @Test
  void whereOfParametersAloneMatchesEager() {
    matchesEagerBitForBit("WhereOfParameters", "6:8");
  }

  /**
   * Ids ranked in forward ({@code logits.topk(2, -1).indices()}, {@code logits.argsort(-1, true)}) looked up in tables:
   * eager's sort kernel, values and gradients eager mode's bit for bit over SGD steps, none back through the indices.
   */
  @Test
  void embeddingOfTopkIdsMatchesEagerBitForBit() {
    matchesEagerBitForBit("TopIds", "6:8");
  }

  /**
   * A VQ-VAE's nearest code ({@code codebook.apply(dist.argmin(-1, true).view(-1, 6))}, the codebook tied to the
   * distances' product): values and gradients eager mode's bit for bit over SGD steps, none back through the argmin.
   */
  @Test
  void embeddingOfArgminIdsMatchesEagerBitForBit() {
    matchesEagerBitForBit("NearestCode", "6:8");
  }

  /**
   * Ids computed in forward by integer arithmetic (shifted, wrapped, scaled, clamped, halved) of the input ids or of an
   * argmax's and argmin's: values and the tables' gradients eager mode's bit for bit over SGD steps.
   */
  @ParameterizedTest(name = "{0}")
  @CsvSource({"ShiftedIds, ids11:6", "GreedyShift, 6:8", "ShiftedPositions, ids11:6", "IdsWithPositions, ids11:6", "IdsOfIds, ids11:6",
      "MovedIds, ids11:8"})
  void embeddingOfIdArithmeticMatchesEagerBitForBit(String model, String sampleShape) {
    matchesEagerBitForBit(model, sampleShape);
  }

  /**
   * Ids shifted in forward past the table (id 11 + 1 for 12 rows): the compiled forward fails as eager's Embedding does,
   * with eager's message after the layer and the call that made the ids; shifted past 2^24, with eager's message of the
   * arithmetic itself.
   */
  @Test
  void shiftedIdsOutOfRangeFailLikeEager() {
    Compilation c = ProcessorTest.compile(ProcessorTest.model("ShiftedIds"));
    ClassLoader loader = new CompiledClasses(c);
    Module eager = factory(loader, "test.ShiftedIds").get();
    Module compiled = factory(loader, "test.KilnShiftedIds").get();
    compiled.loadStateDict(eager.stateDict());
    Tensor ids = Tensor.labels(0, 1, 2, 3, 4, 11).reshape(1, 6); // 11 + 1 is past tok's 12 rows
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> eager.forward(ids));
    IllegalArgumentException k = assertThrows(IllegalArgumentException.class, () -> compiled.forward(ids));
    assertTrue(e.getMessage().contains("index 12 at flat position 5 of [1, 6] is out of range for 12 embeddings"), e.getMessage());
    assertEquals("tok Embedding(12, 4, padding_idx=0) over shifted.view(-1, shifted.size(1)): " + e.getMessage(), k.getMessage());
    Tensor huge = Tensor.labels(0, 1, 2, 3, 4, 1 << 24).reshape(1, 6); // + 1 is past what ids hold exactly: the arithmetic's own error
    e = assertThrows(IllegalArgumentException.class, () -> eager.forward(huge));
    k = assertThrows(IllegalArgumentException.class, () -> compiled.forward(huge));
    assertTrue(e.getMessage().startsWith("add: the result 16777217 at flat position 5 is out of the range"), e.getMessage());
    assertEquals(e.getMessage(), k.getMessage());
  }

  /**
   * Ids of two values of the batch past 2^24 ({@code ids.mul(ids)} of 5000) and divided by zero ({@code ids.remainder(ids.sub(1))}
   * of a 1): the compiled forward fails with eager's message, the value and its flat position; negative ids wrap as eager's.
   */
  @Test
  void idsOfIdsFailLikeEager() {
    JavaFileObject f = ProcessorTest.classModel("PairErrors",
        "@Model(input = {6})",
        "public class PairErrors extends Module {",
        "  final Embedding tok = new Embedding(12, 4);",
        "  @Override public Tensor forward(Tensor ids) {",
        "    Tensor sq = ids.mul(ids);",
        "    Tensor r = ids.remainder(ids.sub(1));",
        "    return tok.apply(sq.remainder(12)).add(tok.apply(r.remainder(12))).flatten(1, 2);",
        "  }",
        "}");
    Compilation c = ProcessorTest.compile(f);
    assertThat(c).succeededWithoutWarnings();
    ClassLoader loader = new CompiledClasses(c);
    Module eager = factory(loader, "test.PairErrors").get();
    Module compiled = factory(loader, "test.KilnPairErrors").get();
    compiled.loadStateDict(eager.stateDict());
    Tensor fine = Tensor.labels(0, -7, 3, 4, 5, -2, 9, 10, 0, 3, 2, 2).reshape(2, 6);
    assertArrayEquals(eager.forward(fine).toFloatArray(), compiled.forward(fine).toFloatArray());
    for (Tensor ids : new Tensor[] {Tensor.labels(0, 2, 3, 4, 5, 5000).reshape(1, 6), Tensor.labels(0, 2, 3, 4, 5, 6, 7, 8, 1, 0, 2, 3)
        .reshape(2, 6)}) {
      IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> eager.forward(ids));
      IllegalArgumentException k = assertThrows(IllegalArgumentException.class, () -> compiled.forward(ids));
      assertEquals(e.getMessage(), k.getMessage());
    }
    assertTrue(assertThrows(IllegalArgumentException.class, () -> compiled.forward(Tensor.labels(0, 2, 3, 4, 5, 5000).reshape(1, 6)))
        .getMessage().startsWith("mul: the result 25000000 at flat position 5 is out of the range"));
    assertEquals("remainder: integer division by zero (the divisor at flat position 8 is 0)", assertThrows(
        IllegalArgumentException.class, () -> compiled.forward(Tensor.labels(0, 2, 3, 4, 5, 6, 7, 8, 1, 0, 2, 3).reshape(2, 6)))
        .getMessage());
  }

  /**
   * Ids moved past the table (padded with a start token 11 that a table of 11 rows lacks): the compiled forward fails as
   * eager's Embedding does, after the layer and the move; within the table, the output is eager's; on CUDA too.
   */
  @Test
  void movedIdsOutOfRangeFailLikeEager() {
    JavaFileObject f = ProcessorTest.classModel("PadErrors",
        "@Model(input = {6})",
        "public class PadErrors extends Module {",
        "  final Embedding tok = new Embedding(11, 4);",
        "  @Override public Tensor forward(Tensor ids) {",
        "    return tok.apply(F.pad(ids, new int[] {1, -1}, 10.9f).flip(1)).flatten(1, 2);",
        "  }",
        "}");
    Compilation c = ProcessorTest.compile(f);
    assertThat(c).succeededWithoutWarnings();
    ClassLoader loader = new CompiledClasses(c);
    Module eager = factory(loader, "test.PadErrors").get();
    Module compiled = factory(loader, "test.KilnPadErrors").get();
    compiled.loadStateDict(eager.stateDict());
    Tensor fine = Tensor.labels(0, 7, 3, 4, 5, 2, 9, 10, 0, 3, 2, 2).reshape(2, 6); // the start token 10.9 is id 10, the last row
    assertArrayEquals(eager.forward(fine).toFloatArray(), compiled.forward(fine).toFloatArray());
    Tensor past = Tensor.labels(0, 7, 3, 4, 11, 2).reshape(1, 6);
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> eager.forward(past));
    IllegalArgumentException k = assertThrows(IllegalArgumentException.class, () -> compiled.forward(past));
    assertTrue(e.getMessage().contains("index 11 at flat position 0 of [1, 6] is out of range for 11 embeddings"), e.getMessage());
    assertEquals("tok Embedding(11, 4) over F.pad(ids, new int[]{1, -1}, 10.9F).flip(1): " + e.getMessage(), k.getMessage());
  }

  /**
   * Ids an argmax computed past the table (7 classes, 5 rows): the compiled forward fails as eager's Embedding does, with
   * eager's message (the bad id, its position, the table's size) after the layer and the call that made the ids.
   */
  @Test
  void argmaxIdsOutOfRangeFailLikeEager() {
    Compilation c = ProcessorTest.compile(ProcessorTest.model("GreedyIdsOutOfRange"));
    assertThat(c).succeededWithoutWarnings();
    ClassLoader loader = new CompiledClasses(c);
    Kiln.manualSeed(11);
    Module eager = factory(loader, "test.GreedyIdsOutOfRange").get();
    Kiln.manualSeed(11);
    Module compiled = factory(loader, "test.KilnGreedyIdsOutOfRange").get();
    Kiln.manualSeed(5);
    Tensor x = Tensor.randn(5, 6, 8);
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> eager.forward(x));
    IllegalArgumentException k = assertThrows(IllegalArgumentException.class, () -> compiled.forward(x));
    assertTrue(e.getMessage().contains("out of range for 5 embeddings (0..4)"), e.getMessage());
    assertEquals("emb Embedding(5, 8) over logits.argmax(-1): " + e.getMessage(), k.getMessage());
  }

  /**
   * A where's tensor fields the only parameters trained (every layer frozen), or those of wheres of fields alone: the
   * compiled backward runs down to the wheres that read them (returning early with the wheres' gradients), and their
   * gradients are eager mode's bit for bit.
   */
  @ParameterizedTest(name = "{0}")
  @CsvSource(delimiter = '|', value = {"WhereFieldOperands | lead, row, fill, column | fc1.weight",
      "WhereOfParameters | learned, row | fc.weight"})
  void whereFieldsTrainedAloneGetEagerGradients(String model, String trained, String frozen) {
    Compilation c = ProcessorTest.compile(ProcessorTest.model(model));
    assertThat(c).succeededWithoutWarnings();
    ClassLoader loader = new CompiledClasses(c);
    Kiln.manualSeed(11);
    Module eager = factory(loader, "test." + model).get();
    Kiln.manualSeed(11);
    Module compiled = factory(loader, "test.Kiln" + model).get();
    for (Module m : List.of(eager, compiled)) {
      m.namedParameters().forEach((k, v) -> v.requiresGrad(!k.contains(".")));
    }
    float[] values = Tensor.randn(5, 6, 8).toFloatArray();
    Tensor y = Tensor.labels(0, 2, 1, 1, 0);
    new CrossEntropyLoss().apply(eager.forward(Tensor.of(values, 5, 6, 8)), y).backward();
    new CrossEntropyLoss().apply(compiled.forward(Tensor.of(values, 5, 6, 8)), y).backward();
    Map<String, Tensor> cp = compiled.namedParameters();
    for (String k : trained.split(", ")) {
      assertArrayEquals(eager.namedParameters().get(k).grad().toFloatArray(), cp.get(k).grad().toFloatArray(), k + " gradient");
    }
    assertTrue(cp.get(frozen).grad() == null, "a frozen layer got a gradient");
  }

  /**
   * Compiled {@code test.Kiln<model>} against eager {@code test.<model>}, batch 5 of {@code sampleShape} (3 classes or
   * more): outputs, loss, the input's and every parameter's gradient bit for bit over 4 SGD steps in training (the same
   * dropout draws), and the output in evaluation. {@code ids11:6} is token ids {@code [5, 6]} below 11 (no input
   * gradient). The compiled model, after its last step's backward.
   */
  static Module matchesEagerBitForBit(String model, String sampleShape) {
    return matchesEagerBitForBit(model, sampleShape, 1);
  }

  /**
   * As {@link #matchesEagerBitForBit(String, String)}, each SGD step after {@code microBatches} forwards and backwards
   * without zeroGrad between them (gradient accumulation): the gradients summed over the micro-batches eager mode's bit
   * for bit, each backward adding its total to the gradient as eager's engine does ({@code grad + (g1 + g2)}).
   */
  static Module matchesEagerBitForBit(String model, String sampleShape, int microBatches) {
    Compilation c = ProcessorTest.compile(ProcessorTest.model(model));
    assertThat(c).succeededWithoutWarnings();
    ClassLoader loader = new CompiledClasses(c);
    Kiln.manualSeed(11);
    Module eager = factory(loader, "test." + model).get();
    Kiln.manualSeed(11);
    Module compiled = factory(loader, "test.Kiln" + model).get();
    Map<String, Tensor> ep = eager.namedParameters();
    Map<String, Tensor> cp = compiled.namedParameters();
    int vocabulary = sampleShape.startsWith("ids") ? Integer.parseInt(sampleShape.substring(3, sampleShape.indexOf(':'))) : 0;
    String sample = vocabulary > 0 ? sampleShape.substring(sampleShape.indexOf(':') + 1) : sampleShape;
    int[] shape = Arrays.stream(("5:" + sample).split(":")).mapToInt(Integer::parseInt).toArray();
    Tensor y = Tensor.labels(0, 2, 1, 1, 0);
    SGD optE = new SGD(eager.parameters(), 0.1).momentum(0.9);
    SGD optC = new SGD(compiled.parameters(), 0.1).momentum(0.9);
    Kiln.manualSeed(3);
    for (int step = 0; step < 4; step++) {
      optE.zeroGrad();
      optC.zeroGrad();
      for (int micro = 0; micro < microBatches; micro++) {
        float[] values = vocabulary > 0 ? null : Tensor.randn(shape).toFloatArray();
        Tensor ids = vocabulary > 0 ? ids(shape[0], shape[1], vocabulary) : null;
        Tensor[] xs = vocabulary > 0 ? new Tensor[] {ids, ids}
            : new Tensor[] {Tensor.of(values, shape).requiresGrad(true), Tensor.of(values, shape).requiresGrad(true)};
        float[][] outs = new float[2][];
        float[] losses = new float[2];
        for (int i = 0; i < 2; i++) {
          Kiln.manualSeed(300 + step * microBatches + micro); // the same dropout draws for both
          Tensor out = (i == 0 ? eager : compiled).forward(xs[i]);
          Tensor loss = new CrossEntropyLoss().apply(out, y);
          loss.backward();
          outs[i] = out.toFloatArray();
          losses[i] = loss.item();
        }
        String at = model + " at step " + step + (microBatches > 1 ? ", micro-batch " + micro : "");
        assertArrayEquals(outs[0], outs[1], at + ": output");
        assertEquals(losses[0], losses[1], at + ": loss");
        if (vocabulary == 0) {
          assertArrayEquals(xs[0].grad().toFloatArray(), xs[1].grad().toFloatArray(), at + ": input gradient");
        }
        List<String> differ = new ArrayList<>();
        ep.forEach((k, v) -> { // (none in both for a layer no step reads: one whose output's size alone forward reads)
          if (v.grad() == null ? cp.get(k).grad() != null
              : cp.get(k).grad() == null || !Arrays.equals(v.grad().toFloatArray(), cp.get(k).grad().toFloatArray())) {
            differ.add(k);
          }
        });
        assertTrue(differ.isEmpty(), at + ": gradients not eager's bit for bit: " + differ);
      }
      optE.step();
      optC.step();
    }
    eager.eval();
    compiled.eval();
    try (var g = Kiln.noGrad()) {
      Tensor x = vocabulary > 0 ? ids(shape[0], shape[1], vocabulary) : Tensor.randn(shape);
      assertArrayEquals(eager.forward(x).toFloatArray(), compiled.forward(x).toFloatArray(), model + ": output in evaluation");
    }
    return compiled;
  }

  /** {@code [n, s]} random ids below {@code vocabulary}, the first and last id (padding rows, where a model has one) among them. */
  static Tensor ids(int n, int s, int vocabulary) {
    int[] ids = new int[n * s];
    ids[1] = vocabulary - 1;
    for (int i = 2; i < ids.length; i++) {
      ids[i] = Kiln.generator().nextInt(vocabulary);
    }
    return Tensor.labels(ids).reshape(n, s);
  }

  /**
   * Fine-tuning: with the first parameters frozen (every one but the last layer's, then the first
   * layer's alone), the compiled backward stops below the last trainable step and still gives the
   * eager gradients; frozen parameters get none, and x none when it does not require grad.
   */
  @ParameterizedTest
  @CsvSource({
    "SmallCnn, test.SmallCnn, test.KilnSmallCnn, 1:8:8, 3",
    "Mlp, test.Mlp, test.KilnMlp, 1:28:28, 10",
    "AssignedInConstructor, test.AssignedInConstructor, test.KilnAssignedInConstructor, 1:8:8, 3",
    "HiddenMlp, test.HiddenMlp, test.KilnHiddenMlp, 6, 3",
    "HiddenCnn, test.HiddenCnn, test.KilnHiddenCnn, 1:6:6, 3",
    "Residual, test.Residual, test.KilnResidual, 4:6:6, 3",
    "Inception, test.Inception, test.KilnInception, 3:8:8, 3",
    "Broadcasts, test.Broadcasts, test.KilnBroadcasts, 4:6:6, 3",
    "MultiHeadAttention, test.MultiHeadAttention, test.KilnMultiHeadAttention, 6:8, 3",
    "CausalBlock, test.CausalBlock, test.KilnCausalBlock, 6:8, 3",
    "FusedQkvBlock, test.FusedQkvBlock, test.KilnFusedQkvBlock, 6:8, 3",
    "GatedPieces, test.GatedPieces, test.KilnGatedPieces, 4:16, 3",
    "PositionTable, test.PositionTable, test.KilnPositionTable, 6:8, 3",
    "TinyGpt, test.TinyGpt, test.KilnTinyGpt, ids:6, 3",
    "MeanPool, test.MeanPool, test.KilnMeanPool, ids:6, 3",
    "CenteredGates, test.CenteredGates, test.KilnCenteredGates, 3:6:6, 3",
    "MapReductions, test.MapReductions, test.KilnMapReductions, 3:6:5, 3",
    "TextLstm, test.TextLstm, test.KilnTextLstm, ids:6, 3",
    "BiGru, test.BiGru, test.KilnBiGru, 7:5, 3",
    "SeqRnn, test.SeqRnn, test.KilnSeqRnn, 6:4, 3",
    "LstmLastState, test.LstmLastState, test.KilnLstmLastState, 6:5, 3",
    "TutorialLstm, test.TutorialLstm, test.KilnTutorialLstm, 6:5, 3",
    "TutorialGru, test.TutorialGru, test.KilnTutorialGru, 7:5, 3",
    "CellStates, test.CellStates, test.KilnCellStates, 6:4, 3",
    "FieldProducts, test.FieldProducts, test.KilnFieldProducts, 6:8, 3",
    "TokenMixer, test.TokenMixer, test.KilnTokenMixer, 6:8, 3",
    "CausalLocal, test.CausalLocal, test.KilnCausalLocal, 6:8, 3",
    "PaddedText, test.PaddedText, test.KilnPaddedText, ids:6, 3",
    "PaddedMeanPool, test.PaddedMeanPool, test.KilnPaddedMeanPool, ids:6, 3",
    "ActivationMasks, test.ActivationMasks, test.KilnActivationMasks, 4:8, 3",
    "SlicedMasks, test.SlicedMasks, test.KilnSlicedMasks, 6:8, 3",
    "RuntimeSizes, test.RuntimeSizes, test.KilnRuntimeSizes, 6:8, 3",
    "SizedPositions, test.SizedPositions, test.KilnSizedPositions, ids:6, 3",
    "WhereBroadcasts, test.WhereBroadcasts, test.KilnWhereBroadcasts, 4:8, 3",
    "SlicedParameters, test.SlicedParameters, test.KilnSlicedParameters, 6:8, 3",
  })
  void frozenLayersGiveTheEagerGradients(String source, String eagerName, String compiledName, String sampleShape,
      int classes) {
    frozenLayers(source, eagerName, compiledName, sampleShape, null);
  }

  /** The same with a loss on every output of a model with several (a hidden layer's gradient joins midway). */
  @ParameterizedTest
  @CsvSource({
    "HiddenMlp, forwardWithHidden, 6",
    "HiddenCnn, inspect, 1:6:6",
    "HiddenResidual, heads, 6",
    "SplitHeads, heads, 12",
  })
  void frozenLayersWithSeveralOutputsGiveTheEagerGradients(String source, String method, String sampleShape) {
    frozenLayers(source, "test." + source, "test.Kiln" + source, sampleShape, method);
  }

  /**
   * A hidden output below frozen layers (and x without gradient) does not require grad, as eager
   * mode's does not: a loss on it alone throws, as eager's and PyTorch's, instead of running a
   * backward with nothing to do; the output after the trainable layer still records.
   */
  @Test
  void anOutputBelowFrozenLayersDoesNotRequireGradAsInEagerMode() {
    Compilation c = ProcessorTest.compile(ProcessorTest.model("HiddenCnn"));
    ClassLoader loader = new CompiledClasses(c);
    for (String name : List.of("test.HiddenCnn", "test.KilnHiddenCnn")) {
      Module model = factory(loader, name).get();
      model.namedParameters().forEach((k, v) -> v.requiresGrad(k.startsWith("fc2.")));
      Kiln.manualSeed(3);
      List<Tensor> outs = outputs(model, "inspect", Tensor.randn(5, 1, 6, 6));
      Tensor features = outs.get(1);
      assertFalse(features.requiresGrad(), name + ": features requires grad");
      assertTrue(outs.get(0).requiresGrad(), name + ": the logits do not require grad");
      var e = assertThrows(IllegalStateException.class, () -> features.mul(features).sum().backward(), name);
      assertTrue(e.getMessage().contains("does not require grad"), e.getMessage());
      model.namedParameters().forEach((k, v) -> assertTrue(v.grad() == null, name + ": " + k + " got a gradient"));
      outs.get(0).sum().backward();
      assertNotNull(model.namedParameters().get("fc2.weight").grad(), name + ": fc2 got no gradient");
    }
  }

  private void frozenLayers(String source, String eagerName, String compiledName, String sampleShape, String method) {
    Compilation c = ProcessorTest.compile(ProcessorTest.model(source));
    ClassLoader loader = new CompiledClasses(c);
    boolean ids = sampleShape.startsWith("ids:"); // token ids [5, S] (below 11), not floats
    String[] dims = sampleShape.substring(ids ? 4 : 0).split(":");
    int[] shape = new int[dims.length + 1];
    shape[0] = 5;
    for (int i = 0; i < dims.length; i++) {
      shape[i + 1] = Integer.parseInt(dims[i]);
    }
    for (boolean headOnly : new boolean[] {true, false}) {
      Kiln.manualSeed(11);
      Module eager = factory(loader, eagerName).get();
      Kiln.manualSeed(11);
      Module compiled = factory(loader, compiledName).get();
      List<String> names = List.copyOf(eager.namedParameters().keySet());
      String firstLayer = owner(names.get(0));
      String lastLayer = owner(names.get(names.size() - 1));
      for (Module m : List.of(eager, compiled)) {
        m.namedParameters().forEach((k, v) -> {
          String layer = owner(k);
          v.requiresGrad(headOnly ? layer.equals(lastLayer) : !layer.equals(firstLayer));
        });
      }
      Kiln.manualSeed(3);
      Tensor x = ids ? ids(5, shape[1], 11) : Tensor.randn(shape);
      Tensor y = Tensor.labels(new int[] {0, 1, 2, 1, 0});
      for (Module m : List.of(eager, compiled)) {
        Kiln.manualSeed(100);
        if (method == null) {
          new CrossEntropyLoss().apply(m.forward(x), y).backward();
        } else { // every output into the loss: the sum of their means, each weighted differently
          List<Tensor> outs = outputs(m, method, x);
          Tensor loss = outs.get(0).mean();
          for (int i = 1; i < outs.size(); i++) {
            loss = loss.add(outs.get(i).mul(outs.get(i)).mean().mul(i + 1f));
          }
          loss.backward();
        }
      }
      Map<String, Tensor> cp = compiled.namedParameters();
      eager.namedParameters().forEach((k, v) -> {
        String what = (headOnly ? "head only: " : "all but the first: ") + k;
        if (!v.requiresGrad()) {
          assertTrue(cp.get(k).grad() == null, what + " is frozen but has a gradient");
        } else {
          assertClose(what + " gradient", cp.get(k).grad().toFloatArray(), v.grad().toFloatArray(), 1e-5);
        }
      });
    }
  }

  /** The layer a parameter belongs to ({@code fc1} of {@code fc1.weight}), or the model's own tensor ({@code pos}). */
  private static String owner(String key) {
    return key.contains(".") ? key.substring(0, key.lastIndexOf('.')) : key;
  }

  /** The outputs of a model's outputs method, in order: a record's components or the array's elements. */
  static List<Tensor> outputs(Module model, String method, Tensor... inputs) {
    try {
      Class<?> owner = model.getClass();
      while (Arrays.stream(owner.getDeclaredMethods()).noneMatch(d -> d.getName().equals(method))) {
        owner = owner.getSuperclass();
      }
      Class<?>[] types = new Class<?>[inputs.length];
      Arrays.fill(types, Tensor.class);
      Method m = owner.getDeclaredMethod(method, types);
      m.setAccessible(true);
      return tensorsOf(m.invoke(model, (Object[]) inputs));
    } catch (ReflectiveOperationException e) {
      throw new AssertionError("cannot call " + method, e);
    }
  }

  /**
   * Every parameter's gradient of the compiled model is eager mode's (bit for bit when {@code tolerance} is 0, else within
   * it), and a parameter without one in eager mode has none in the compiled model either.
   */
  static void assertParameterGradients(String what, Module eager, Module compiled, double tolerance) {
    Map<String, Tensor> cp = compiled.namedParameters();
    eager.namedParameters().forEach((k, v) -> {
      if (v.grad() == null) {
        assertTrue(cp.get(k).grad() == null, what + ": " + k + " has a gradient in the compiled model only");
      } else if (tolerance == 0) {
        assertNotNull(cp.get(k).grad(), what + ": " + k + " has no gradient in the compiled model");
        assertArrayEquals(v.grad().toFloatArray(), cp.get(k).grad().toFloatArray(), what + ": " + k + " gradient");
      } else {
        assertNotNull(cp.get(k).grad(), what + ": " + k + " has no gradient in the compiled model");
        assertClose(what + ": " + k + " gradient", cp.get(k).grad().toFloatArray(), v.grad().toFloatArray(), tolerance);
      }
    });
  }

  /** What a method returned as its tensors in order: one tensor, an array's elements or a record's components. */
  static List<Tensor> tensorsOf(Object result) throws ReflectiveOperationException {
    if (result instanceof Tensor t) {
      return List.of(t);
    }
    if (result instanceof Tensor[] array) {
      return List.of(array);
    }
    List<Tensor> out = new ArrayList<>();
    for (RecordComponent c : result.getClass().getRecordComponents()) {
      Method accessor = c.getAccessor();
      accessor.setAccessible(true);
      out.add((Tensor) accessor.invoke(result));
    }
    return out;
  }

  /**
   * A loss on some outputs: mean squared error on output 0, summed squared error on the others,
   * against fixed random targets.
   */
  static Tensor loss(List<Tensor> outputs, List<Tensor> targets, Set<Integer> used) {
    Tensor loss = null;
    for (int i : used) {
      Tensor term = i == 0 ? new MSELoss().apply(outputs.get(i), targets.get(i))
          : new MSELoss(Reduction.SUM).apply(outputs.get(i), targets.get(i));
      loss = loss == null ? term : loss.add(term);
    }
    return loss;
  }

  /**
   * Several outputs: every output, and the input and parameter gradients of a loss on each subset
   * of them (a parameter no used output depends on has no gradient in either), agree with eager
   * mode; outputs keep their values through backward and the next forward; two losses backward
   * one after the other add up as in eager mode.
   */
  @ParameterizedTest
  @CsvSource({
    "HiddenMlp, forwardWithHidden, 6, 0 | 1 | 0:1",
    "HiddenCnn, inspect, 1:6:6, 0 | 1 | 2 | 0:1 | 1:2 | 0:1:2",
    "HiddenArray, all, 5, 0 | 1 | 2 | 0:2 | 0:1:2",
    "HiddenSoftmax, forwardWithHidden, 4, 0 | 1 | 0:1",
    "HiddenResidual, heads, 6, 0 | 1 | 2 | 0:1 | 1:2 | 0:2 | 0:1:2",
    "SplitHeads, heads, 12, 0 | 1 | 2 | 0:1 | 1:2 | 0:2 | 0:1:2",
    "Heads, heads, 2:4:3, 0 | 1 | 2 | 3 | 1:2 | 1:3 | 2:3 | 0:3 | 1:2:3",
    "PairEmbeddings, embedded, 6, 0 | 1 | 0:1",
  })
  void severalOutputsMatchEager(String source, String method, String sampleShape, String subsets) {
    Compilation c = ProcessorTest.compile(ProcessorTest.model(source));
    assertThat(c).succeededWithoutWarnings();
    ClassLoader loader = new CompiledClasses(c);
    Supplier<Module> eagerFactory = factory(loader, "test." + source);
    Supplier<Module> compiledFactory = factory(loader, "test.Kiln" + source);
    String[] dims = sampleShape.split(":");
    int batch = 5;
    int[] shape = new int[dims.length + 1];
    shape[0] = batch;
    for (int i = 0; i < dims.length; i++) {
      shape[i + 1] = Integer.parseInt(dims[i]);
    }
    Kiln.manualSeed(5);
    Tensor x = Tensor.randn(shape);
    Tensor other = Tensor.randn(shape);
    List<Tensor> targets = new ArrayList<>();
    for (Tensor o : outputs(eagerFactory.get(), method, x)) {
      targets.add(Tensor.randn(o.shape()));
    }

    for (String subset : subsets.split("\\|")) {
      Set<Integer> used = new TreeSet<>();
      for (String i : subset.strip().split(":")) {
        used.add(Integer.parseInt(i));
      }
      String what = source + " loss on outputs " + used;
      Kiln.manualSeed(11);
      Module eager = eagerFactory.get();
      Kiln.manualSeed(11);
      Module compiled = compiledFactory.get();
      Tensor xe = Tensor.of(x.toFloatArray(), shape).requiresGrad(true);
      Tensor xc = Tensor.of(x.toFloatArray(), shape).requiresGrad(true);
      Kiln.manualSeed(100); // the same dropout masks for both
      List<Tensor> oe = outputs(eager, method, xe);
      Kiln.manualSeed(100);
      List<Tensor> oc = outputs(compiled, method, xc);
      List<float[]> before = oc.stream().map(Tensor::toFloatArray).toList();
      loss(oe, targets, used).backward();
      loss(oc, targets, used).backward();
      for (int i = 0; i < oe.size(); i++) {
        assertArrayEquals(oe.get(i).shape(), oc.get(i).shape(), what + ": shape of output " + i);
        assertClose(what + ": output " + i, oc.get(i).toFloatArray(), oe.get(i).toFloatArray(), 1e-5);
      }
      assertClose(what + ": input gradient", xc.grad().toFloatArray(), xe.grad().toFloatArray(), 1e-5);
      assertParameterGradients(what, eager, compiled, 1e-5);
      // The next forward of the same batch size reuses the plan's buffers: earlier outputs keep their values.
      outputs(compiled, method, other);
      compiled.forward(other);
      for (int i = 0; i < oc.size(); i++) {
        assertArrayEquals(before.get(i), oc.get(i).toFloatArray(), what + ": output " + i + " changed after backward and the next forward");
      }
    }

    // Two losses, backward one after the other (the first retaining the graph, as PyTorch needs): each output's
    // gradient is added once.
    Kiln.manualSeed(11);
    Module eager = eagerFactory.get();
    Kiln.manualSeed(11);
    Module compiled = compiledFactory.get();
    Kiln.manualSeed(100);
    List<Tensor> oe = outputs(eager, method, x);
    Kiln.manualSeed(100);
    List<Tensor> oc = outputs(compiled, method, x);
    int last = oe.size() - 1;
    loss(oe, targets, Set.of(0)).backward(true);
    loss(oe, targets, Set.of(last)).backward();
    loss(oc, targets, Set.of(0)).backward(true);
    loss(oc, targets, Set.of(last)).backward();
    Map<String, Tensor> cp = compiled.namedParameters();
    eager.namedParameters().forEach((k, v) -> {
      if (v.grad() == null) { // a head neither loss used
        assertTrue(cp.get(k).grad() == null, source + " two backward calls: " + k + " has a gradient in the compiled model only");
      } else {
        assertClose(source + " two backward calls: " + k + " gradient", cp.get(k).grad().toFloatArray(), v.grad().toFloatArray(), 1e-5);
      }
    });
  }

  /**
   * A method of several inputs returning several outputs: every output, and the gradients of every parameter and
   * float input of a loss on each subset of the outputs (a tower no used output depends on has none in either), are
   * eager mode's bit for bit, over batch sizes 5, 3 and 5 again; outputs keep their values through the next forward;
   * a mask input gets no gradient; a further input of another batch size is refused naming it.
   *
   * @param masks per parameter, whether it is a padding mask (1 for a sample's first tokens, 0 after them)
   */
  @ParameterizedTest
  @CsvSource({
    "PairEmbeddings, forwardPair, false:false, b, a, 0 | 1 | 2 | 0:1 | 1:2 | 0:2 | 0:1:2",
    "MaskedTokens, forwardMasked, false:true, mask, x, 0 | 1 | 0:1",
  })
  void severalInputsAndOutputsMatchEager(String source, String methodName, String masks, String further, String first,
      String subsets) throws ReflectiveOperationException {
    Compilation c = ProcessorTest.compile(ProcessorTest.model(source));
    assertThat(c).succeededWithoutWarnings();
    ClassLoader loader = new CompiledClasses(c);
    Supplier<Module> eagerFactory = factory(loader, "test." + source);
    Supplier<Module> compiledFactory = factory(loader, "test.Kiln" + source);
    Module probe = eagerFactory.get();
    Method method = Arrays.stream(probe.getClass().getMethods()).filter(m -> m.getName().equals(methodName)).findFirst().orElseThrow();
    java.lang.reflect.Parameter[] params = method.getParameters();
    String[] isMask = masks.split(":");
    int[][] samples = new int[params.length][];
    for (int i = 0; i < params.length; i++) {
      samples[i] = i == 0 ? probe.getClass().getAnnotation(dev.kiln.dsl.Model.class).input()
          : params[i].getAnnotation(dev.kiln.dsl.Input.class).value();
    }
    for (String subset : subsets.split("\\|")) {
      Set<Integer> used = new TreeSet<>();
      for (String i : subset.strip().split(":")) {
        used.add(Integer.parseInt(i));
      }
      Kiln.manualSeed(11);
      Module eager = eagerFactory.get();
      Kiln.manualSeed(11);
      Module compiled = compiledFactory.get();
      for (int batch : new int[] {5, 3, 5}) {
        String what = source + " batch " + batch + " loss on outputs " + used;
        Kiln.manualSeed(batch);
        Tensor[] inputsE = new Tensor[params.length];
        Tensor[] inputsC = new Tensor[params.length];
        for (int i = 0; i < params.length; i++) {
          int[] shape = batched(batch, samples[i]);
          boolean mask = Boolean.parseBoolean(isMask[i]);
          Tensor t = mask ? paddingMask(batch, samples[i][0]) : Tensor.randn(shape);
          inputsE[i] = mask ? t : Tensor.of(t.toFloatArray(), shape).requiresGrad(true);
          inputsC[i] = mask ? t : Tensor.of(t.toFloatArray(), shape).requiresGrad(true);
        }
        eager.zeroGrad(true);
        compiled.zeroGrad(true);
        List<Tensor> oe = outputs(eager, methodName, inputsE);
        List<Tensor> oc = outputs(compiled, methodName, inputsC);
        List<Tensor> targets = new ArrayList<>();
        for (Tensor o : oe) {
          targets.add(Tensor.randn(o.shape()));
        }
        for (int i = 0; i < oe.size(); i++) {
          assertArrayEquals(oe.get(i).shape(), oc.get(i).shape(), what + ": shape of output " + i);
          assertArrayEquals(oe.get(i).toFloatArray(), oc.get(i).toFloatArray(), what + ": output " + i);
        }
        List<float[]> before = oc.stream().map(Tensor::toFloatArray).toList();
        loss(oe, targets, used).backward();
        loss(oc, targets, used).backward();
        for (int i = 0; i < params.length; i++) {
          Tensor ge = inputsE[i].grad();
          Tensor gc = inputsC[i].grad();
          assertEquals(ge == null, gc == null, what + ": input " + i + " has a gradient in one mode only");
          if (ge != null) {
            assertArrayEquals(ge.toFloatArray(), gc.toFloatArray(), what + ": input " + i + " gradient");
          }
        }
        assertParameterGradients(what, eager, compiled, 0);
        outputs(compiled, methodName, inputsC); // the next forward of this batch size: earlier outputs keep their values
        for (int i = 0; i < oc.size(); i++) {
          assertArrayEquals(before.get(i), oc.get(i).toFloatArray(), what + ": output " + i + " changed after the next forward");
        }
      }
    }
    // evaluation: no gradient anywhere, the same values
    Module compiled = compiledFactory.get();
    Module eager = eagerFactory.get();
    compiled.loadStateDict(eager.stateDict());
    compiled.eval();
    eager.eval();
    Tensor[] inputs = new Tensor[params.length];
    for (int i = 0; i < params.length; i++) {
      inputs[i] = Boolean.parseBoolean(isMask[i]) ? paddingMask(4, samples[i][0]) : Tensor.randn(batched(4, samples[i]));
    }
    try (var g = Kiln.noGrad()) {
      List<Tensor> oe = outputs(eager, methodName, inputs);
      List<Tensor> oc = outputs(compiled, methodName, inputs);
      for (int i = 0; i < oe.size(); i++) {
        assertArrayEquals(oe.get(i).toFloatArray(), oc.get(i).toFloatArray(), source + " under noGrad: output " + i);
        assertTrue(!oc.get(i).requiresGrad(), source + " under noGrad: output " + i + " requires grad");
      }
    }
    // a further input of another batch size: refused, naming the parameter
    inputs[1] = Boolean.parseBoolean(isMask[1]) ? paddingMask(3, samples[1][0]) : Tensor.randn(batched(3, samples[1]));
    var e = assertThrows(AssertionError.class, () -> outputs(compiled, methodName, inputs));
    assertEquals("Kiln" + source + "." + methodName + " expects " + further + " [4, " + joined(samples[1]) + "] (one sample ["
        + joined(samples[1]) + "], the batch size 4 of " + first + "), got [3, " + joined(samples[1]) + "]; every input of one"
        + " call holds the same samples, so give " + further + " " + first + "'s batch size", rootCause(e).getMessage());
  }
}
