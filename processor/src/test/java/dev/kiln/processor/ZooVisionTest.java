package dev.kiln.processor;

import static com.google.testing.compile.CompilationSubject.assertThat;
import static dev.kiln.processor.ParityTest.assertClose;
import static dev.kiln.processor.ParityTest.assertParameterGradients;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.testing.compile.Compilation;
import dev.kiln.dsl.BCELoss;
import dev.kiln.dsl.F;
import dev.kiln.dsl.Init;
import dev.kiln.dsl.MSELoss;
import dev.kiln.dsl.Module;
import dev.kiln.dsl.Reduction;
import dev.kiln.runtime.Kiln;
import dev.kiln.runtime.Tensor;
import dev.kiln.runtime.optim.Adadelta;
import dev.kiln.runtime.optim.Adam;
import dev.kiln.runtime.optim.Optimizer;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.function.BiFunction;
import java.util.function.Function;
import java.util.function.Supplier;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * The vision models of pytorch/examples ported as a Java developer would port them (the model zoo's vision pass; sources
 * under {@code src/test/resources/models/Zoo*.java}, at small sizes): each compiles, and the compiled model's outputs, loss
 * and every gradient equal eager mode's (relative norm 1e-5), over three optimizer steps of the example's own optimizer,
 * after which the parameters agree (1e-4); and both agree with PyTorch 1.13's same models on the same weights ({@code
 * zoo_vision/make_reference.py}).
 */
class ZooVisionTest {
  private static final double TOLERANCE = 1e-5;

  /** An eager model and its compiled twin, built from one seed. */
  record Pair(Module eager, Module compiled) {
    static Pair of(String model) {
      Compilation c = ProcessorTest.compile(ProcessorTest.model(model));
      assertThat(c).succeededWithoutWarnings();
      return of(new ParityTest.CompiledClasses(c), model, model);
    }

    static Pair of(ClassLoader loader, String model, String nested) {
      Supplier<Module> eager = ParityTest.factory(loader, "test." + model + (nested.equals(model) ? "" : "$" + nested));
      Supplier<Module> compiled = ParityTest.factory(loader, "test.Kiln" + model + (nested.equals(model) ? "" : "_" + nested));
      Kiln.manualSeed(7);
      Module e = eager.get();
      Kiln.manualSeed(7);
      Module k = compiled.get();
      return new Pair(e, k);
    }

    Module get(int i) {
      return i == 0 ? eager : compiled;
    }

    void assertParametersClose(String what, double tolerance) {
      Map<String, Tensor> cp = compiled.namedParameters();
      eager.namedParameters().forEach((k, v) -> assertClose(what + ": " + k, cp.get(k).toFloatArray(), v.toFloatArray(), tolerance));
    }
  }

  /**
   * Three steps of {@code optimizer} on each twin: {@code loss} of the model and the step's input (the same draws for both:
   * dropout masks, noise) gives equal losses, input gradients and parameter gradients.
   */
  static void trainsAlike(String name, Pair p, Function<Module, Optimizer> optimizer, int[] shape,
      BiFunction<Module, Tensor, Tensor> loss) {
    Optimizer[] opts = {optimizer.apply(p.eager()), optimizer.apply(p.compiled())};
    for (int step = 0; step < 3; step++) {
      Kiln.manualSeed(100 + step);
      float[] values = Tensor.rand(shape).toFloatArray();
      Tensor[] xs = new Tensor[2];
      float[] losses = new float[2];
      for (int i = 0; i < 2; i++) {
        opts[i].zeroGrad();
        xs[i] = Tensor.of(values, shape).requiresGrad(true);
        Kiln.manualSeed(200 + step); // the same dropout masks and noise for both
        Tensor l = loss.apply(p.get(i), xs[i]);
        l.backward();
        losses[i] = l.item();
      }
      String at = name + " at step " + step;
      assertClose(at + ": loss", new float[] {losses[1]}, new float[] {losses[0]}, TOLERANCE);
      assertClose(at + ": input gradient", xs[1].grad().toFloatArray(), xs[0].grad().toFloatArray(), TOLERANCE);
      assertParameterGradients(at, p.eager(), p.compiled(), TOLERANCE);
      opts[0].step();
      opts[1].step();
    }
    p.assertParametersClose(name + " after 3 steps", 1e-4);
  }

  /** mnist/main.py: Net with its dropouts (training), F.nll_loss of its log-softmax, Adadelta(lr=1.0). */
  @Test
  void mnistNet() {
    Pair p = Pair.of("ZooMnistNet");
    Tensor y = Tensor.labels(3, 7, 0);
    trainsAlike("ZooMnistNet", p, m -> new Adadelta(m.parameters(), 1.0), new int[] {3, 1, 28, 28}, (m, x) -> {
      Tensor out = m.forward(x);
      assertEquals(List.of(3, 10), List.of(out.shape()[0], out.shape()[1]));
      return F.nllLoss(out, y);
    });
    p.eager().eval();
    p.compiled().eval();
    try (var g = Kiln.noGrad()) {
      Tensor x = Tensor.randn(2, 1, 28, 28);
      assertClose("ZooMnistNet in evaluation", p.compiled().forward(x).toFloatArray(), p.eager().forward(x).toFloatArray(), TOLERANCE);
    }
  }

  /**
   * vae/main.py: the reconstruction, mean and log-variance of forwardAll (eps drawn inside with {@code Tensor.randnLike(std)},
   * as PyTorch's {@code torch.randn_like}), loss BCE(sum) + KLD, Adam(lr=1e-3); in evaluation it still draws (PyTorch's VAE
   * samples in both modes), eager's values for the same seed.
   */
  @Test
  void vae() {
    Pair p = Pair.of("ZooVae");
    trainsAlike("ZooVae", p, m -> new Adam(m.parameters(), 1e-3), new int[] {3, 1, 14, 14}, (m, x) -> {
      List<Tensor> out = ParityTest.outputs(m, "forwardAll", x);
      Tensor recon = out.get(0), mu = out.get(1), logvar = out.get(2);
      Tensor bce = F.binaryCrossEntropy(recon, x.view(-1, 196), Reduction.SUM);
      Tensor kld = logvar.add(1f).sub(mu.pow(2)).sub(logvar.exp()).sum().mul(-0.5);
      return bce.add(kld);
    });
    p.eager().eval();
    p.compiled().eval();
    try (var g = Kiln.noGrad()) {
      Tensor x = Tensor.rand(2, 1, 14, 14);
      assertClose("ZooVae forward", p.compiled().forward(x).toFloatArray(), p.eager().forward(x).toFloatArray(), TOLERANCE);
      float[][] recon = new float[2][];
      for (int i = 0; i < 2; i++) {
        Kiln.manualSeed(17);
        recon[i] = ParityTest.outputs(p.get(i), "forwardAll", x).get(0).toFloatArray();
      }
      assertClose("ZooVae forwardAll in evaluation", recon[1], recon[0], TOLERANCE);
    }
  }

  /**
   * dcgan/main.py: weights_init over both networks' modules, then its training iteration: the discriminator on real images
   * and on the generator's fakes (detached), one Adam step; the generator through the discriminator, one Adam step
   * (lr=2e-4, betas (0.5, 0.999)), BCELoss; twice, eager and compiled alike.
   */
  @Test
  void dcgan() {
    Compilation c = ProcessorTest.compile(ProcessorTest.model("ZooDcgan"));
    assertThat(c).succeededWithoutWarnings();
    ClassLoader loader = new ParityTest.CompiledClasses(c);
    Pair g = Pair.of(loader, "ZooDcgan", "NetG"), d = Pair.of(loader, "ZooDcgan", "NetD");
    for (int i = 0; i < 2; i++) {
      Kiln.manualSeed(9);
      weightsInit(g.get(i));
      weightsInit(d.get(i));
    }
    g.assertParametersClose("weights_init", 0);
    BCELoss criterion = new BCELoss();
    Function<Module, Adam> adam = m -> new Adam(m.parameters(), 2e-4).betas(0.5, 0.999);
    Adam[] optD = {adam.apply(d.eager()), adam.apply(d.compiled())};
    Adam[] optG = {adam.apply(g.eager()), adam.apply(g.compiled())};
    int n = 2;
    for (int step = 0; step < 2; step++) {
      Kiln.manualSeed(300 + step);
      float[] real = Tensor.rand(n, 3, 64, 64).mul(2).sub(1).toFloatArray();
      float[] noise = Tensor.randn(n, 8, 1, 1).toFloatArray();
      float[][] errD = new float[2][], errG = new float[2][];
      for (int i = 0; i < 2; i++) {
        Module netD = d.get(i), netG = g.get(i);
        netD.zeroGrad();
        Tensor output = netD.forward(Tensor.of(real, n, 3, 64, 64));
        Tensor errDReal = criterion.apply(output, Tensor.ones(n, 1));
        errDReal.backward();
        Tensor fake = netG.forward(Tensor.of(noise, n, 8, 1, 1));
        output = netD.forward(fake.detach());
        Tensor errDFake = criterion.apply(output, Tensor.zeros(n, 1));
        errDFake.backward();
        optD[i].step();
        netG.zeroGrad();
        output = netD.forward(fake);
        Tensor errGen = criterion.apply(output, Tensor.ones(n, 1));
        errGen.backward();
        optG[i].step();
        errD[i] = new float[] {errDReal.item(), errDFake.item()};
        errG[i] = new float[] {errGen.item()};
      }
      assertClose("DCGAN errD at step " + step, errD[1], errD[0], TOLERANCE);
      assertClose("DCGAN errG at step " + step, errG[1], errG[0], TOLERANCE);
      assertParameterGradients("DCGAN netG at step " + step, g.eager(), g.compiled(), TOLERANCE);
    }
    g.assertParametersClose("DCGAN netG after 2 iterations", 1e-4);
    d.assertParametersClose("DCGAN netD after 2 iterations", 1e-4);
  }

  /** dcgan/main.py's weights_init: convolutions N(0, 0.02), batch norms' weight N(1, 0.02) and bias 0, chosen by class name. */
  private static void weightsInit(Module model) {
    for (Module m : model.modules()) {
      String classname = m.getClass().getSimpleName();
      if (classname.contains("Conv")) {
        Init.normal(m.namedParameters().get("weight"), 0.0, 0.02);
      } else if (classname.contains("BatchNorm")) {
        Init.normal(m.namedParameters().get("weight"), 1.0, 0.02);
        Init.zeros(m.namedParameters().get("bias"));
      }
    }
  }

  /** super_resolution/model.py: orthogonal initialisation, then training by MSELoss to 3x-upscaled targets, Adam(lr=0.01). */
  @Test
  void superResolution() {
    Pair p = Pair.of("ZooSuperResolution");
    p.assertParametersClose("orthogonal init", 0);
    Tensor w = p.eager().namedParameters().get("conv2.weight").view(16, -1); // [16, 144]: orthonormal rows times sqrt(2)
    assertClose("conv2.weight rows", w.matmul(w.transpose(0, 1)).toFloatArray(), twiceIdentity(16), 1e-5);
    Tensor target = Tensor.rand(2, 1, 24, 24);
    trainsAlike("ZooSuperResolution", p, m -> new Adam(m.parameters(), 0.01), new int[] {2, 1, 8, 8},
        (m, x) -> new MSELoss().apply(m.forward(x), target));
  }

  private static float[] twiceIdentity(int n) {
    float[] v = new float[n * n];
    for (int i = 0; i < n; i++) {
      v[i * n + i] = 2f;
    }
    return v;
  }

  /**
   * fast_neural_style's TransformerNet: reflection padding, affine instance norms, residual blocks and upsampling in the
   * blocks' forward, trained by MSELoss to a target image, Adam(lr=1e-3).
   */
  @Test
  void transformerNet() {
    Pair p = Pair.of("ZooTransformerNet");
    assertTrue(p.eager().namedParameters().containsKey("res5.conv2.conv2d.weight"), p.eager().namedParameters().keySet().toString());
    Tensor target = Tensor.rand(2, 3, 16, 16);
    trainsAlike("ZooTransformerNet", p, m -> new Adam(m.parameters(), 1e-3), new int[] {2, 3, 16, 16},
        (m, x) -> new MSELoss().apply(m.forward(x), target));
  }

  // ------------------------------------------------------------------ PyTorch's values (zoo_vision/reference.txt)

  /** PyTorch's values for a pass: {@code <case>.<key>} to its values, and each case's parameters' names in order. */
  record Reference(Map<String, float[]> values, Map<String, List<String>> keys) {
    /** Reads a reference.txt resource: {@code # keys <case> <key>...} lines and {@code <key> [shape] values...} lines. */
    static Reference load(String resource) {
      Map<String, float[]> values = new HashMap<>();
      Map<String, List<String>> keys = new HashMap<>();
      try (InputStream in = ZooVisionTest.class.getResourceAsStream(resource)) {
        for (String line : new String(in.readAllBytes(), StandardCharsets.UTF_8).split("\n")) {
          String[] f = line.trim().split(" ");
          if (line.startsWith("# keys ")) {
            keys.put(f[2], Arrays.asList(f).subList(3, f.length));
          } else if (!line.isBlank()) {
            float[] v = new float[f.length - 2];
            for (int i = 0; i < v.length; i++) {
              v[i] = Float.parseFloat(f[i + 2]);
            }
            values.put(f[0], v);
          }
        }
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
      return new Reference(values, keys);
    }
  }

  private static final Reference REFERENCE = Reference.load("/zoo_vision/reference.txt");

  /** {@code fn(i * scale + shift)} over a shape in float, as the script's {@code filled}. */
  private static float[] filled(int n, boolean sin, double scale, double shift) {
    float[] v = new float[n];
    for (int i = 0; i < n; i++) {
      float x = (float) i * (float) scale + (float) shift;
      v[i] = (float) (sin ? Math.sin(x) : Math.cos(x));
    }
    return v;
  }

  /** The gradient's summary the script writes: its sum against cos(0.29 i), and its 2-norm. */
  private static float[] summary(Tensor grad) {
    float[] g = grad.toFloatArray(), w = filled(g.length, false, 0.29, 0);
    double dot = 0, norm = 0;
    for (int i = 0; i < g.length; i++) {
      dot += (double) g[i] * w[i];
      norm += (double) g[i] * g[i];
    }
    return new float[] {(float) dot, (float) Math.sqrt(norm)};
  }

  /**
   * Each model, eager and compiled, on the script's weights (0.1 sin(0.37 i + 0.1 k) in the k-th parameter) and input: the
   * loss sum(out * sin(0.71 i + 0.3)), the small outputs, and the input's and every parameter's gradient (summarised) are
   * PyTorch's within 1e-4 (relative, or absolute under 1).
   */
  @ParameterizedTest
  @CsvSource({
    "ZooMnistNet, ZooMnistNet, 2:1:28:28, false, 0.13, 0.2, 1, 0, false",
    "ZooVae, ZooVae, 2:1:14:14, true, 0.11, 0.4, 0.5, 0.5, true",
    "ZooDcgan, NetG, 2:8:1:1, false, 0.13, 0.2, 1, 0, true",
    "ZooDcgan, NetD, 2:3:64:64, false, 0.13, 0.2, 1, 0, true",
    "ZooSuperResolution, ZooSuperResolution, 2:1:8:8, false, 0.13, 0.2, 1, 0, true",
    "ZooTransformerNet, ZooTransformerNet, 2:3:16:16, false, 0.13, 0.2, 1, 0, true",
  })
  void agreesWithPyTorch(String model, String nested, String shapeText, boolean sin, double scale, double shift, float a, float b,
      boolean training) {
    agreesWith(REFERENCE, model, nested, shapeText, sin, scale, shift, a, b, training);
  }

  /** {@link #agreesWithPyTorch}'s checks of one case against {@code reference}. */
  static void agreesWith(Reference reference, String model, String nested, String shapeText, boolean sin, double scale,
      double shift, float a, float b, boolean training) {
    String name = nested.equals(model) ? model : model + "." + nested;
    Compilation c = ProcessorTest.compile(ProcessorTest.model(model));
    assertThat(c).succeededWithoutWarnings();
    Pair p = Pair.of(new ParityTest.CompiledClasses(c), model, nested);
    int[] shape = Arrays.stream(shapeText.split(":")).mapToInt(Integer::parseInt).toArray();
    for (int m = 0; m < 2; m++) {
      Module net = p.get(m);
      String what = name + (m == 0 ? " eager" : " compiled");
      assertEquals(reference.keys().get(name), new ArrayList<>(net.namedParameters().keySet()), what + ": PyTorch's parameter names");
      int k = 0;
      for (Tensor t : net.namedParameters().values()) {
        float[] v = filled(t.numel(), true, 0.37, 0.1 * k++);
        for (int i = 0; i < v.length; i++) {
          v[i] *= 0.1f;
        }
        try (var g = Kiln.noGrad()) {
          t.copyFrom(Tensor.of(v, t.shape()));
        }
      }
      if (training) {
        net.train();
      } else {
        net.eval();
      }
      float[] xv = filled(Arrays.stream(shape).reduce(1, (u, w) -> u * w), sin, scale, shift);
      for (int i = 0; i < xv.length; i++) {
        xv[i] = a * xv[i] + b;
      }
      Tensor x = Tensor.of(xv, shape).requiresGrad(true);
      List<Tensor> outs = model.equals("ZooVae")
          ? vaeOutputs(net, x) : List.of(net.forward(x));
      Tensor loss = null;
      for (Tensor o : outs) {
        Tensor term = o.mul(Tensor.of(filled(o.numel(), true, 0.71, 0.3), o.shape())).sum();
        loss = loss == null ? term : loss.add(term);
      }
      loss.backward();
      assertNear(what + ": loss", reference.values().get(name + ".loss"), new float[] {loss.item()});
      for (int i = 0; i < outs.size(); i++) {
        if (reference.values().containsKey(name + ".out" + i)) {
          assertNear(what + ": output " + i, reference.values().get(name + ".out" + i), outs.get(i).toFloatArray());
        }
      }
      assertNear(what + ": input gradient", reference.values().get(name + ".grad.input"), summary(x.grad()));
      for (var e : net.namedParameters().entrySet()) {
        assertNear(what + ": " + e.getKey() + " gradient", reference.values().get(name + ".grad." + e.getKey()), summary(e.getValue().grad()));
      }
    }
  }

  /** ZooVae's forwardAll after {@code Kiln.manualSeed(31)}: its noise is the script's {@code KILN_EPS}, Kiln's first draws. */
  private static List<Tensor> vaeOutputs(Module net, Tensor x) {
    Kiln.manualSeed(31);
    return ParityTest.outputs(net, "forwardAll", x);
  }

  private static void assertNear(String what, float[] expected, float[] actual) {
    assertEquals(expected.length, actual.length, what + ": length");
    for (int i = 0; i < expected.length; i++) {
      assertEquals(expected[i], actual[i], 1e-4 * Math.max(1, Math.abs(expected[i])), what + " [" + i + "]");
    }
  }
}
