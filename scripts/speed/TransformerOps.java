import dev.kiln.dsl.CrossEntropyLoss;
import dev.kiln.dsl.Module;
import dev.kiln.runtime.Kiln;
import dev.kiln.runtime.Ops;
import dev.kiln.runtime.Tensor;
import dev.kiln.runtime.optim.SGD;
import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.function.Supplier;

/**
 * The twentieth session's one-thread timings of the eager transformer (docs/benchmarks.md, "Twentieth session: eager
 * transformer steps"): thread CPU time of the calling thread, so that other processes on the machine move the figures
 * less than wall time. Ops at the shapes of the samples' FashionTransformer at batch 64 (tokens 28, width 64, 4 heads
 * of 16): 20 calls a round after 40 of warm-up, the lowest round of 5; "training" is forward, a sum and its backward
 * into the inputs. Steps ({@code step}): the bench's transformer train step and inference and the LSTM's inference,
 * eager and compiled, the median of 30 after 40. Run with {@code -Dkiln.threads=1}, the jar on the class path; an
 * argument limits the cases to names starting with it; {@code transformer_ops_peer.py} is PyTorch's side.
 */
public class TransformerOps {
  private static final ThreadMXBean MX = ManagementFactory.getThreadMXBean();

  public static void main(String[] args) {
    String only = args.length > 0 ? args[0] : "";
    Kiln.manualSeed(0);
    int n = 64, s = 28, d = 64, heads = 4, dh = 16;
    Tensor x = Tensor.randn(n, s, d);
    Tensor xg = Tensor.randn(n, s, d).requiresGrad(true);
    Tensor up = Tensor.randn(n, s, 2 * d);
    Tensor upg = Tensor.randn(n, s, 2 * d).requiresGrad(true);
    Tensor q = Tensor.randn(n, heads, s, dh), k = Tensor.randn(n, heads, s, dh);
    Tensor qg = Tensor.randn(n, heads, s, dh).requiresGrad(true), kg = Tensor.randn(n, heads, s, dh).requiresGrad(true);
    Tensor att = Tensor.randn(n, heads, s, s);
    Tensor attg = Tensor.randn(n, heads, s, s).requiresGrad(true);
    Tensor w = Tensor.ones(d).requiresGrad(true), b = Tensor.zeros(d).requiresGrad(true);
    Map<String, Runnable> cases = new LinkedHashMap<>();
    cases.put("heads split forward", () -> noGrad(() -> x.view(-1, s, heads, dh).transpose(1, 2)));
    cases.put("heads split training", () -> train(() -> xg.view(-1, s, heads, dh).transpose(1, 2), xg));
    cases.put("heads join forward", () -> noGrad(() -> q.transpose(1, 2).reshape(-1, s, d)));
    cases.put("heads join training", () -> train(() -> qg.transpose(1, 2).reshape(-1, s, d), qg));
    cases.put("scores forward", () -> noGrad(() -> q.matmul(k.transpose(-2, -1)).div(Math.sqrt(dh))));
    cases.put("scores training", () -> train(() -> qg.matmul(kg.transpose(-2, -1)).div(Math.sqrt(dh)), qg, kg));
    cases.put("att @ v forward", () -> noGrad(() -> att.matmul(q)));
    cases.put("att @ v training", () -> train(() -> attg.matmul(qg), attg, qg));
    cases.put("softmax forward", () -> noGrad(() -> att.softmax(-1)));
    cases.put("softmax training", () -> train(() -> attg.softmax(-1), attg));
    cases.put("layer norm forward", () -> noGrad(() -> Ops.layerNorm(x, new int[] {d}, w, b, 1e-5)));
    cases.put("layer norm training", () -> train(() -> Ops.layerNorm(xg, new int[] {d}, w, b, 1e-5), xg, w, b));
    cases.put("gelu forward", () -> noGrad(() -> Ops.gelu(up)));
    cases.put("gelu training", () -> train(() -> Ops.gelu(upg), upg));
    cases.put("residual add forward", () -> noGrad(() -> x.add(x)));
    cases.put("residual add training", () -> train(() -> xg.add(xg), xg));
    for (var e : cases.entrySet()) {
      if (e.getKey().startsWith(only)) {
        System.out.printf("%-30s %8.3f ms%n", e.getKey(), lowestRound(e.getValue()));
      }
    }
    if ("step".startsWith(only) || only.startsWith("step")) {
      step("step transformer train eager", dev.kiln.samples.FashionTransformer::new, true);
      step("step transformer train compiled", dev.kiln.samples.KilnFashionTransformer::new, true);
      step("step transformer infer eager", dev.kiln.samples.FashionTransformer::new, false);
      step("step transformer infer compiled", dev.kiln.samples.KilnFashionTransformer::new, false);
      lstm("step lstm infer eager", dev.kiln.samples.SequenceClassifier::new);
      lstm("step lstm infer compiled", dev.kiln.samples.KilnSequenceClassifier::new);
    }
  }

  private static void noGrad(Supplier<Tensor> f) {
    try (var g = Kiln.noGrad()) {
      f.get();
    }
  }

  private static void train(Supplier<Tensor> f, Tensor... inputs) {
    for (Tensor t : inputs) {
      t.setGrad(null);
    }
    f.get().sum().backward();
  }

  private static double lowestRound(Runnable r) {
    for (int i = 0; i < 40; i++) {
      r.run();
    }
    double best = Double.MAX_VALUE;
    for (int k = 0; k < 5; k++) {
      long t0 = MX.getCurrentThreadCpuTime();
      for (int i = 0; i < 20; i++) {
        r.run();
      }
      best = Math.min(best, (MX.getCurrentThreadCpuTime() - t0) / 1e6 / 20);
    }
    return best;
  }

  private static double median(Runnable step) {
    for (int i = 0; i < 40; i++) {
      step.run();
    }
    double[] ms = new double[30];
    for (int i = 0; i < ms.length; i++) {
      long t = MX.getCurrentThreadCpuTime();
      step.run();
      ms[i] = (MX.getCurrentThreadCpuTime() - t) / 1e6;
    }
    Arrays.sort(ms);
    return ms[ms.length / 2];
  }

  private static void step(String name, Supplier<Module> model, boolean train) {
    Kiln.manualSeed(0);
    Module net = model.get();
    var opt = new SGD(net.parameters(), 0.01).momentum(0.9);
    var criterion = new CrossEntropyLoss();
    Tensor x = Tensor.randn(64, 1, 28, 28);
    int[] labels = new int[64];
    for (int i = 0; i < 64; i++) {
      labels[i] = Kiln.generator().nextInt(10);
    }
    Tensor y = Tensor.labels(labels);
    double ms;
    if (train) {
      net.train();
      ms = median(() -> {
        opt.zeroGrad();
        criterion.apply(net.forward(x), y).backward();
        opt.step();
      });
    } else {
      net.eval();
      ms = median(() -> noGrad(() -> net.forward(x)));
    }
    System.out.printf("%-30s %8.3f ms%n", name, ms);
  }

  private static void lstm(String name, Supplier<Module> model) {
    Kiln.manualSeed(0);
    Module net = model.get();
    net.eval();
    Tensor x = Tensor.randn(32, 50, 64);
    System.out.printf("%-30s %8.3f ms%n", name, median(() -> noGrad(() -> net.forward(x))));
  }
}
