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
 * The seventeenth session's one-thread timings (docs/benchmarks.md): thread CPU time of the calling thread, so
 * that other processes on the machine move the figures less than wall time. Layers: 20 calls a round after 40 of
 * warm-up, the lowest round of 5. ResNet steps: the bench's training step (SGD with momentum, batch 64), the
 * median of 30 steps after 40; the MLP's, the CNN's and the transformer's too when named ({@code mlp}, {@code cnn},
 * {@code transformer}); the twentieth session's attention ops ({@code attention}: the samples' FashionTransformer's,
 * batch 64) and evaluation forwards (the ResNet's, and when named the CNN's, {@code transformer infer} and {@code lstm
 * infer}, the median of 30 after 40), with what a step allocates. Run with {@code -Dkiln.threads=1}; {@code
 * scripts/speed/compare} runs it.
 */
public class OneThread {
  private static final ThreadMXBean MX = ManagementFactory.getThreadMXBean();

  public static void main(String[] args) throws Exception {
    String only = args.length > 0 ? args[0] : "";
    Kiln.manualSeed(0);
    Tensor x = Tensor.randn(64, 32, 28, 28);
    Tensor xg = Tensor.randn(64, 32, 28, 28).requiresGrad(true);
    Tensor c = Tensor.randn(64, 32, 14, 14);
    Tensor w = Tensor.randn(32, 32, 3, 3);
    Tensor cg = Tensor.randn(64, 32, 14, 14).requiresGrad(true);
    Tensor wg = Tensor.randn(32, 32, 3, 3).requiresGrad(true);
    Map<String, Runnable> cases = new LinkedHashMap<>();
    cases.put("var (0, 2, 3) forward", () -> noGrad(() -> Ops.var(x, new int[] {0, 2, 3}, false, false)));
    cases.put("var (0, 2, 3) training", () -> train(() -> Ops.var(xg, new int[] {0, 2, 3}, false, false), xg));
    cases.put("var 1 forward", () -> noGrad(() -> Ops.var(x, 1, true, false)));
    cases.put("mean (1, 3) forward", () -> noGrad(() -> Ops.mean(x, new int[] {1, 3}, false)));
    cases.put("mean (1, 3) training", () -> train(() -> Ops.mean(xg, new int[] {1, 3}, false), xg));
    cases.put("conv2d 32->32 14x14 forward", () -> noGrad(() -> Ops.conv2d(c, w, null, 1, 1, 1, 1)));
    cases.put("conv2d 32->32 14x14 training", () -> train(() -> Ops.conv2d(cg, wg, null, 1, 1, 1, 1), cg, wg));
    if (!only.isEmpty()) { // the twentieth session's attention ops (docs/benchmarks.md), asked for by name only
      attentionCases(cases);
    }
    for (var e : cases.entrySet()) {
      if (e.getKey().startsWith(only)) {
        System.out.printf("%-30s %8.3f ms%n", e.getKey(), lowestRound(e.getValue()));
      }
    }
    if ("resnet train step".startsWith(only)) {
      step("resnet train step eager", dev.kiln.samples.FashionResNet::new);
      step("resnet train step compiled", dev.kiln.samples.KilnFashionResNet::new);
    }
    // the twentieth session's eager convolutional steps: inference too (eval mode, noGrad, batch 64)
    if ("resnet inference".startsWith(only)) {
      inference("resnet inference eager", dev.kiln.samples.FashionResNet::new);
      inference("resnet inference compiled", dev.kiln.samples.KilnFashionResNet::new);
    }
    // the nineteenth session's eager steps (docs/benchmarks.md): the bench's other models, asked for by name only
    if (!only.isEmpty() && "mlp train step".startsWith(only)) {
      step("mlp train step eager", dev.kiln.samples.Models::mlp);
      step("mlp train step compiled", dev.kiln.samples.KilnMlp::new);
    }
    if (!only.isEmpty() && "cnn train step".startsWith(only)) {
      step("cnn train step eager", dev.kiln.samples.FashionCnn::new);
      step("cnn train step compiled", dev.kiln.samples.KilnFashionCnn::new);
    }
    if (!only.isEmpty() && "cnn inference".startsWith(only)) {
      inference("cnn inference eager", dev.kiln.samples.FashionCnn::new);
      inference("cnn inference compiled", dev.kiln.samples.KilnFashionCnn::new);
    }
    if (!only.isEmpty() && "transformer train step".startsWith(only)) {
      step("transformer train step eager", dev.kiln.samples.FashionTransformer::new);
      step("transformer train step compiled", dev.kiln.samples.KilnFashionTransformer::new);
    }
    if (only.equals("transformer phases")) { // the twenty-first session's: each step's forward, backward, optimizer
      step("transformer train step eager", dev.kiln.samples.FashionTransformer::new, true);
      step("transformer train step compiled", dev.kiln.samples.KilnFashionTransformer::new, true);
    }
    if (!only.isEmpty() && "transformer infer".startsWith(only)) {
      infer("transformer infer eager", dev.kiln.samples.FashionTransformer::new, Tensor.randn(64, 1, 28, 28));
      infer("transformer infer compiled", dev.kiln.samples.KilnFashionTransformer::new, Tensor.randn(64, 1, 28, 28));
    }
    if (!only.isEmpty() && "lstm infer".startsWith(only)) {
      infer("lstm infer eager", dev.kiln.samples.SequenceClassifier::new, Tensor.randn(32, 50, 64));
      infer("lstm infer compiled", dev.kiln.samples.KilnSequenceClassifier::new, Tensor.randn(32, 50, 64));
    }
  }

  /**
   * The samples' FashionTransformer's attention at batch 64 (tokens 28, width 64, 4 heads of 16), op by op: the heads'
   * split and join, the scores with their scale, {@code att @ v}, softmax, layer norm, GELU, a residual add.
   */
  private static void attentionCases(Map<String, Runnable> cases) {
    int s = 28, d = 64, heads = 4, dh = 16;
    Tensor x = Tensor.randn(64, s, d), xg = Tensor.randn(64, s, d).requiresGrad(true);
    Tensor up = Tensor.randn(64, s, 2 * d), upg = Tensor.randn(64, s, 2 * d).requiresGrad(true);
    Tensor q = Tensor.randn(64, heads, s, dh), k = Tensor.randn(64, heads, s, dh);
    Tensor qg = Tensor.randn(64, heads, s, dh).requiresGrad(true), kg = Tensor.randn(64, heads, s, dh).requiresGrad(true);
    Tensor att = Tensor.randn(64, heads, s, s), attg = Tensor.randn(64, heads, s, s).requiresGrad(true);
    Tensor w = Tensor.ones(d).requiresGrad(true), b = Tensor.zeros(d).requiresGrad(true);
    cases.put("attention heads split forward", () -> noGrad(() -> x.view(-1, s, heads, dh).transpose(1, 2)));
    cases.put("attention heads split training", () -> train(() -> xg.view(-1, s, heads, dh).transpose(1, 2), xg));
    cases.put("attention heads join forward", () -> noGrad(() -> q.transpose(1, 2).reshape(-1, s, d)));
    cases.put("attention heads join training", () -> train(() -> qg.transpose(1, 2).reshape(-1, s, d), qg));
    cases.put("attention scores forward", () -> noGrad(() -> q.matmul(k.transpose(-2, -1)).div(Math.sqrt(dh))));
    cases.put("attention scores training", () -> train(() -> qg.matmul(kg.transpose(-2, -1)).div(Math.sqrt(dh)), qg, kg));
    cases.put("attention att @ v forward", () -> noGrad(() -> att.matmul(q)));
    cases.put("attention att @ v training", () -> train(() -> attg.matmul(qg), attg, qg));
    cases.put("attention softmax forward", () -> noGrad(() -> att.softmax(-1)));
    cases.put("attention softmax training", () -> train(() -> attg.softmax(-1), attg));
    cases.put("attention layer norm forward", () -> noGrad(() -> Ops.layerNorm(x, new int[] {d}, w, b, 1e-5)));
    cases.put("attention layer norm training", () -> train(() -> Ops.layerNorm(xg, new int[] {d}, w, b, 1e-5), xg, w, b));
    cases.put("attention gelu forward", () -> noGrad(() -> Ops.gelu(up)));
    cases.put("attention gelu training", () -> train(() -> Ops.gelu(upg), upg));
    cases.put("attention residual add forward", () -> noGrad(() -> x.add(x)));
    cases.put("attention residual add training", () -> train(() -> xg.add(xg), xg));
  }

  /** The median of 30 evaluation forwards under noGrad after 40, as {@link #step} times training. */
  private static void infer(String name, Supplier<Module> model, Tensor x) {
    Kiln.manualSeed(0);
    Module net = model.get();
    net.eval();
    median(name, () -> noGrad(() -> net.forward(x)));
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

  private static void step(String name, Supplier<Module> model) {
    step(name, model, false);
  }

  /**
   * {@link #step}; with {@code phases} also the median of each step's forward (with the loss), backward and optimizer
   * step, the same 30 steps (the twenty-first session's eager transformer, docs/benchmarks.md).
   */
  private static void step(String name, Supplier<Module> model, boolean phases) {
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
    net.train();
    java.util.List<double[]> times = new java.util.ArrayList<>();
    median(name, () -> {
      long t0 = phases ? MX.getCurrentThreadCpuTime() : 0;
      opt.zeroGrad();
      Tensor loss = criterion.apply(net.forward(x), y);
      long t1 = phases ? MX.getCurrentThreadCpuTime() : 0;
      loss.backward();
      long t2 = phases ? MX.getCurrentThreadCpuTime() : 0;
      opt.step();
      if (phases) {
        times.add(new double[] {(t1 - t0) / 1e6, (t2 - t1) / 1e6, (MX.getCurrentThreadCpuTime() - t2) / 1e6});
      }
    });
    if (phases) {
      String[] part = {"forward", "backward", "optimizer"};
      for (int p = 0; p < part.length; p++) {
        double[] ms = new double[30];
        for (int i = 0; i < ms.length; i++) {
          ms[i] = times.get(40 + i)[p]; // the 30 timed steps, after the 40 of warm-up
        }
        Arrays.sort(ms);
        System.out.printf("  %-28s %8.3f ms%n", part[p], ms[ms.length / 2]);
      }
    }
  }

  private static void inference(String name, Supplier<Module> model) {
    infer(name, model, Tensor.randn(64, 1, 28, 28));
  }

  /**
   * The median of 30 calls after 40, and the megabytes the thread allocated in the last (a new Java array is zeroed
   * by the allocating thread: docs/benchmarks.md, twentieth session).
   */
  private static void median(String name, Runnable step) {
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
    var alloc = (com.sun.management.ThreadMXBean) MX;
    long a0 = alloc.getCurrentThreadAllocatedBytes();
    step.run();
    System.out.printf("%-30s %8.3f ms  (allocates %.1f MB)%n", name, ms[ms.length / 2],
        (alloc.getCurrentThreadAllocatedBytes() - a0) / 1e6);
  }
}
