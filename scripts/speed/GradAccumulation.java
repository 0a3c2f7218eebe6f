import dev.kiln.dsl.CrossEntropyLoss;
import dev.kiln.dsl.Module;
import dev.kiln.runtime.Kiln;
import dev.kiln.runtime.Tensor;
import dev.kiln.runtime.optim.SGD;
import java.lang.management.ManagementFactory;
import java.util.Arrays;
import java.util.function.Supplier;

/**
 * The gradient-accumulation timings of docs/benchmarks.md (2026-12-07, gradacc): the compiled MLP's training step with
 * {@code opt.zeroGrad()}, with {@code zeroGrad(true)}, and of four micro-batches (zeroGrad once, four forwards and
 * backwards, one SGD step); batch 64, thread CPU time, the median of 40 steps after 20. Against a samples jar:
 * {@code javac -cp JAR -d OUT scripts/speed/GradAccumulation.java && java -Dkiln.threads=1 -cp JAR:OUT GradAccumulation}.
 */
public class GradAccumulation {
  public static void main(String[] args) {
    run("mlp 4 micro-batches compiled", dev.kiln.samples.KilnMlp::new, 4, false);
    run("mlp 1 step zeroGrad", dev.kiln.samples.KilnMlp::new, 1, false);
    run("mlp 1 step zeroGrad(true)", dev.kiln.samples.KilnMlp::new, 1, true);
  }

  static void run(String name, Supplier<Module> model, int microBatches, boolean setToNone) {
    var mx = ManagementFactory.getThreadMXBean();
    Kiln.manualSeed(0);
    Module net = model.get();
    var opt = new SGD(net.parameters(), 0.01).momentum(0.9);
    var ce = new CrossEntropyLoss();
    Tensor x = Tensor.randn(64, 1, 28, 28);
    int[] labels = new int[64];
    for (int i = 0; i < 64; i++) {
      labels[i] = Kiln.generator().nextInt(10);
    }
    Tensor y = Tensor.labels(labels);
    double[] ms = new double[40];
    for (int s = 0; s < 20 + ms.length; s++) {
      long t0 = mx.getCurrentThreadCpuTime();
      if (setToNone) {
        net.zeroGrad(true);
      } else {
        opt.zeroGrad();
      }
      for (int m = 0; m < microBatches; m++) {
        ce.apply(net.forward(x), y).backward();
      }
      opt.step();
      if (s >= 20) {
        ms[s - 20] = (mx.getCurrentThreadCpuTime() - t0) / 1e6;
      }
    }
    Arrays.sort(ms);
    System.out.printf("%-32s %8.3f ms (lowest %.3f)%n", name, ms[ms.length / 2], ms[0]);
  }
}
