import dev.kiln.dsl.AdaptiveAvgPool1d;
import dev.kiln.dsl.Conv1d;
import dev.kiln.dsl.Flatten;
import dev.kiln.dsl.Linear;
import dev.kiln.dsl.MaxPool1d;
import dev.kiln.dsl.ReLU;
import dev.kiln.dsl.Sequential;
import dev.kiln.runtime.Kiln;
import dev.kiln.runtime.Ops;
import dev.kiln.runtime.Tensor;
import dev.kiln.runtime.optim.SGD;

/**
 * An eager 1-d CNN's training step and inference on [64, 16, 128] sequences (docs/benchmarks.md, "Conv1d"):
 * Conv1d(16, 32, 5, padding 2) ReLU MaxPool1d(2) Conv1d(32, 64, 3, padding 1) ReLU MaxPool1d(2) Conv1d(64, 64, 3,
 * padding 1) ReLU AdaptiveAvgPool1d(1) Flatten Linear(64, 10), cross-entropy, SGD with momentum. Thread CPU time at one
 * thread ({@code -Dkiln.threads=1}), else wall time; the median of 9 rounds of 10 steps after 30, and the lowest.
 * {@code conv1d_step_peer.py} is PyTorch's side. {@code java -Dkiln.threads=1 -cp CLASSPATH scripts/speed/Conv1dStep.java}.
 */
public class Conv1dStep {
  public static void main(String[] args) {
    Kiln.manualSeed(0);
    Sequential net = Sequential.of(
        new Conv1d(16, 32, 5).padding(2), new ReLU(), new MaxPool1d(2),
        new Conv1d(32, 64, 3).padding(1), new ReLU(), new MaxPool1d(2),
        new Conv1d(64, 64, 3).padding(1), new ReLU(), new AdaptiveAvgPool1d(1), new Flatten(), new Linear(64, 10));
    SGD opt = new SGD(net.parameters(), 0.01).momentum(0.9);
    Tensor x = Tensor.randn(64, 16, 128);
    int[] labels = new int[64];
    for (int i = 0; i < labels.length; i++) {
      labels[i] = i % 10;
    }
    Tensor y = Tensor.labels(labels);
    report("train step", () -> {
      opt.zeroGrad();
      Ops.crossEntropy(net.forward(x), y, true).backward();
      opt.step();
    });
    net.eval();
    report("inference", () -> {
      try (var g = Kiln.noGrad()) {
        net.forward(x);
      }
    });
  }

  static void report(String name, Runnable step) {
    for (int i = 0; i < 30; i++) {
      step.run();
    }
    double[] rounds = new double[9];
    for (int r = 0; r < rounds.length; r++) {
      long t = now();
      for (int i = 0; i < 10; i++) {
        step.run();
      }
      rounds[r] = (now() - t) / 10e6;
    }
    java.util.Arrays.sort(rounds);
    System.out.printf("%-12s median %7.3f  lowest %7.3f ms%n", name, rounds[rounds.length / 2], rounds[0]);
  }

  /** Thread CPU time at one thread (steadier on a loaded machine), else wall time. */
  static long now() {
    return ONE_THREAD ? MX.getCurrentThreadCpuTime() : System.nanoTime();
  }

  static final java.lang.management.ThreadMXBean MX = java.lang.management.ManagementFactory.getThreadMXBean();
  static final boolean ONE_THREAD = "1".equals(System.getProperty("kiln.threads"));
}
