package dev.kiln.processor;

import static com.google.testing.compile.CompilationSubject.assertThat;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

import com.google.testing.compile.Compilation;
import dev.kiln.dsl.MSELoss;
import dev.kiln.dsl.Module;
import dev.kiln.runtime.Kiln;
import dev.kiln.runtime.Tensor;
import dev.kiln.runtime.optim.Adam;
import dev.kiln.runtime.optim.Optimizer;
import java.util.Map;
import javax.tools.JavaFileObject;
import org.junit.jupiter.api.Test;

/**
 * Random draws in a compiled forward ({@code Tensor.randnLike(x)}, {@code Tensor.randLike(x)}; a VAE's {@code eps =
 * torch.randn_like(std)}): eager mode's values bit for bit for the same seed, drawn in eager's order among dropout's masks,
 * in training and in evaluation; no gradient to the value whose shape they take; the draws of a shape written out stay
 * refused, on their lines.
 */
class RandomDrawTest {
  /** A VAE-like model: dropout before and after the draws, the noise scaled by a std of parameters, a uniform draw too. */
  static final JavaFileObject NOISY = ProcessorTest.classModel("Noisy",
      "@Model(input = {6})",
      "public class Noisy extends Module {",
      "  final Linear enc = new Linear(6, 8);",
      "  final Dropout drop = new Dropout(0.3);",
      "  final Linear mu = new Linear(8, 3);",
      "  final Linear logvar = new Linear(8, 3);",
      "  final Dropout drop2 = new Dropout(0.2);",
      "  final Linear dec = new Linear(3, 6);",
      "  Tensor reparameterize(Tensor m, Tensor lv) {",
      "    Tensor std = lv.mul(0.5).exp();",
      "    Tensor eps = Tensor.randnLike(std);",
      "    return m.add(eps.mul(std));",
      "  }",
      "  @Override public Tensor forward(Tensor x) {",
      "    Tensor h = drop.apply(relu(enc.apply(x)));",
      "    Tensor m = mu.apply(h);",
      "    Tensor z = reparameterize(m, logvar.apply(h));",
      "    Tensor u = Tensor.randLike(z);",
      "    return dec.apply(drop2.apply(z.add(u.mul(0.1))));",
      "  }",
      "}");

  /** Two models of one seed: eager and compiled. */
  static Module[] twins() {
    Compilation c = ProcessorTest.compile(NOISY);
    assertThat(c).succeededWithoutWarnings();
    ClassLoader loader = new ParityTest.CompiledClasses(c);
    Kiln.manualSeed(5);
    Module eager = ParityTest.factory(loader, "test.Noisy").get();
    Kiln.manualSeed(5);
    Module compiled = ParityTest.factory(loader, "test.KilnNoisy").get();
    return new Module[] {eager, compiled};
  }

  /**
   * Three Adam steps, eager and compiled from one seed, each forward after the same seed: the outputs, the input's and every
   * parameter's gradient and the parameters after each step are eager's bit for bit, and the generator ends where eager's
   * does (as many draws, in the same order); batch sizes 4, 7 and 4 again (buffers planned per batch size).
   */
  @Test
  void trainingDrawsEagerModesValuesBitForBit() {
    Module[] m = twins();
    Optimizer[] opts = {new Adam(m[0].parameters(), 0.01), new Adam(m[1].parameters(), 0.01)};
    int[] batches = {4, 7, 4};
    for (int step = 0; step < 3; step++) {
      int n = batches[step];
      Kiln.manualSeed(40 + step);
      float[] xv = Tensor.randn(n, 6).toFloatArray(), yv = Tensor.randn(n, 6).toFloatArray();
      float[][] outs = new float[2][], grads = new float[2][];
      long[] states = new long[2];
      for (int i = 0; i < 2; i++) {
        opts[i].zeroGrad();
        Tensor x = Tensor.of(xv, n, 6).requiresGrad(true);
        Kiln.manualSeed(70 + step);
        Tensor out = m[i].forward(x);
        states[i] = Kiln.generator().state();
        new MSELoss().apply(out, Tensor.of(yv, n, 6)).backward();
        opts[i].step();
        outs[i] = out.toFloatArray();
        grads[i] = x.grad().toFloatArray();
      }
      assertArrayEquals(outs[0], outs[1], "output at step " + step);
      assertArrayEquals(grads[0], grads[1], "input gradient at step " + step);
      assertEquals(states[0], states[1], "the generator after forward at step " + step);
      Map<String, Tensor> cp = m[1].namedParameters();
      for (var e : m[0].namedParameters().entrySet()) {
        assertArrayEquals(e.getValue().grad().toFloatArray(), cp.get(e.getKey()).grad().toFloatArray(), e.getKey() + " gradient at step " + step);
        assertArrayEquals(e.getValue().toFloatArray(), cp.get(e.getKey()).toFloatArray(), e.getKey() + " after step " + step);
      }
    }
  }

  /**
   * In evaluation (no dropout) the draws still happen, as PyTorch's VAE draws in both modes: eager's values bit for bit, two
   * forwards differ, and under no_grad too.
   */
  @Test
  void evaluationDrawsToo() {
    Module[] m = twins();
    m[0].eval();
    m[1].eval();
    Kiln.manualSeed(3);
    Tensor x = Tensor.randn(5, 6);
    float[][] first = new float[2][], second = new float[2][];
    for (int i = 0; i < 2; i++) {
      try (var g = Kiln.noGrad()) {
        Kiln.manualSeed(9);
        first[i] = m[i].forward(x).toFloatArray();
        second[i] = m[i].forward(x).toFloatArray();
      }
    }
    assertArrayEquals(first[0], first[1], "first forward in evaluation");
    assertArrayEquals(second[0], second[1], "second forward in evaluation");
    assertFalse(java.util.Arrays.equals(first[1], second[1]), "two forwards drew the same noise");
  }

  /**
   * The gradient through the noise is the derivative of the loss at fixed draws (the same seed before each forward):
   * central differences over each of logvar's and mu's biases (float, step 1e-2) agree with the compiled backward within
   * 1e-2 relative, in evaluation (the draws alone random).
   */
  @Test
  void gradientsThroughTheNoiseAreTheLossesDerivatives() {
    Module compiled = twins()[1];
    compiled.eval();
    Kiln.manualSeed(2);
    Tensor x = Tensor.randn(4, 6), weights = Tensor.randn(4, 6);
    java.util.function.DoubleSupplier loss = () -> {
      Kiln.manualSeed(21);
      return compiled.forward(x).mul(weights).sum(1).sum(0).item();
    };
    compiled.zeroGrad();
    Kiln.manualSeed(21);
    compiled.forward(x).mul(weights).sum(1).sum(0).backward();
    for (String name : new String[] {"logvar.bias", "mu.bias"}) {
      Tensor b = compiled.namedParameters().get(name);
      float[] grad = b.grad().toFloatArray();
      for (int i = 0; i < 3; i++) {
        float[] v = b.toFloatArray();
        double[] at = new double[2];
        for (int side = 0; side < 2; side++) {
          float[] moved = v.clone();
          moved[i] += side == 0 ? 1e-2f : -1e-2f;
          try (var g = Kiln.noGrad()) {
            b.copyFrom(Tensor.of(moved, 3));
          }
          at[side] = loss.getAsDouble();
        }
        try (var g = Kiln.noGrad()) {
          b.copyFrom(Tensor.of(v, 3));
        }
        double numeric = (at[0] - at[1]) / 2e-2;
        assertEquals(numeric, grad[i], 1e-2 * Math.max(1, Math.abs(numeric)), name + "[" + i + "]");
      }
    }
  }

  /**
   * A draw is a leaf: the value whose shape it takes gets no gradient from it (only the noise in the output: the input's
   * gradient is zero), eager's and PyTorch's {@code randn_like}; the uniform draw's values are in [0, 1).
   */
  @Test
  void aDrawPassesNoGradient() {
    JavaFileObject f = ProcessorTest.classModel("PureNoise",
        "@Model(input = {5})",
        "public class PureNoise extends Module {",
        "  final Linear fc = new Linear(5, 5);",
        "  @Override public Tensor forward(Tensor x) {",
        "    Tensor h = fc.apply(x);",
        "    return Tensor.randnLike(h).add(Tensor.randLike(h).mul(10));",
        "  }",
        "}");
    Compilation c = ProcessorTest.compile(f);
    assertThat(c).succeededWithoutWarnings();
    ClassLoader loader = new ParityTest.CompiledClasses(c);
    Module compiled = ParityTest.factory(loader, "test.KilnPureNoise").get();
    Tensor x = Tensor.randn(3, 5).requiresGrad(true);
    Kiln.manualSeed(12);
    Tensor out = compiled.forward(x);
    Kiln.manualSeed(12);
    float[] normal = Tensor.randn(3, 5).toFloatArray(), uniform = Tensor.rand(3, 5).toFloatArray();
    float[] expected = new float[normal.length];
    for (int i = 0; i < expected.length; i++) {
      expected[i] = normal[i] + uniform[i] * 10;
    }
    assertArrayEquals(expected, out.toFloatArray(), "Tensor.randn's then Tensor.rand's values");
    out.sum(1).sum(0).backward();
    assertArrayEquals(new float[15], x.grad().toFloatArray(), "the input's gradient through the draws");
    assertArrayEquals(new float[25], compiled.namedParameters().get("fc.weight").grad().toFloatArray(), "fc.weight's gradient");
  }

  /**
   * A draw of the input's shape, and of a value computed from it, is eager's; a draw of a tensor field's shape (no batch)
   * is an error on its line.
   */
  @Test
  void drawsOfTheInputAreEagersAndOfAFieldAnError() {
    JavaFileObject f = ProcessorTest.classModel("InputNoise",
        "@Model(input = {5})",
        "public class InputNoise extends Module {",
        "  final Linear fc = new Linear(5, 5);",
        "  @Override public Tensor forward(Tensor x) {",
        "    Tensor a = Tensor.randnLike(x);",
        "    Tensor b = Tensor.randLike(x.add(1f));",
        "    return fc.apply(x.add(a)).mul(b);",
        "  }",
        "}");
    Compilation c = ProcessorTest.compile(f);
    assertThat(c).succeededWithoutWarnings();
    ClassLoader loader = new ParityTest.CompiledClasses(c);
    Kiln.manualSeed(1);
    Module eager = ParityTest.factory(loader, "test.InputNoise").get();
    Kiln.manualSeed(1);
    Module compiled = ParityTest.factory(loader, "test.KilnInputNoise").get();
    Tensor x = Tensor.randn(3, 5);
    Kiln.manualSeed(4);
    float[] e = eager.forward(x).toFloatArray();
    Kiln.manualSeed(4);
    assertArrayEquals(e, compiled.forward(x).toFloatArray(), "draws of the input's shape");

    JavaFileObject field = ProcessorTest.classModel("FieldNoise",
        "@Model(input = {5})",
        "public class FieldNoise extends Module {",
        "  final Tensor w = registerParameter(\"w\", Tensor.ones(5).requiresGrad(true));",
        "  @Override public Tensor forward(Tensor x) {",
        "    Tensor b = Tensor.randnLike(w);",
        "    return x.mul(b);",
        "  }",
        "}");
    assertThat(ProcessorTest.compile(field)).hadErrorContaining("Tensor.randnLike(w): w is the parameter w [5]").inFile(field)
        .onLineContaining("randnLike(w)");
  }

  /** The draws of a shape written out (Tensor.randn(4), Tensor.rand(n, 4)) stay errors on their lines, naming randnLike. */
  @Test
  void drawsOfAWrittenShapeAreErrorsOnTheirLines() {
    JavaFileObject f = ProcessorTest.classModel("NoisyCode",
        "@Model(input = {6})",
        "public class NoisyCode extends Module {",
        "  final Linear mu = new Linear(6, 4);",
        "  @Override public Tensor forward(Tensor x) {",
        "    Tensor m = mu.apply(x);",
        "    Tensor eps = Tensor.randn(x.size(0), 4);",
        "    Tensor u = Tensor.uniform(0f, 2f, 3, 4);",
        "    return m.add(eps).add(u);",
        "  }",
        "}");
    Compilation c = ProcessorTest.compile(f);
    assertThat(c).hadErrorContaining("forward: Tensor.randn draws random values of a shape written out, which a compiled forward"
        + " does not draw (Tensor.randn(x.size(0), 4)); draw them of a value's shape, Tensor.randnLike(mu) or Tensor.randLike(mu)")
        .inFile(f).onLineContaining("Tensor.randn(");
    assertThat(c).hadErrorContaining("forward: Tensor.uniform draws random values of a shape written out").inFile(f)
        .onLineContaining("Tensor.uniform(");
  }
}
