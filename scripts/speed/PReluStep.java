import dev.kiln.dsl.PReLU;
import dev.kiln.dsl.Sequential;
import dev.kiln.runtime.Kiln;
import dev.kiln.runtime.Tensor;

/**
 * PReLU with one slope per channel on [64, 64, 32, 32], eager, one thread (docs/benchmarks.md, "PReLU's kernel"): its
 * no-grad forward, its forward and backward (the input's gradient and the slopes', from a fixed output gradient), and the
 * same inside a graph ({@code prelu(x).mul(g).sum()}: the gradient reaching PReLU is then the engine's own, which its
 * backward may write x's gradient over), and the no-grad forward of two PReLU(64) in a {@code Sequential} (the first's
 * output goes back to the array pool once the second has read it).
 * Thread CPU time at one thread ({@code -Dkiln.threads=1}), the median of 9 rounds of 10 steps after 30, and the
 * lowest, as {@code ConvNeXtStep}. {@code prelu_step_peer.py} is PyTorch's side; {@code scripts/speed/prelu} runs both.
 */
public class PReluStep {
  public static void main(String[] args) {
    Kiln.manualSeed(0);
    PReLU act = new PReLU(64);
    Tensor x = Tensor.randn(64, 64, 32, 32).requiresGrad(true), g = Tensor.randn(64, 64, 32, 32);
    Timing.report("prelu fwd", () -> {
      try (var off = Kiln.noGrad()) {
        act.apply(x);
      }
    });
    Sequential two = Sequential.of(new PReLU(64), new PReLU(64));
    Timing.report("2 prelu seq fwd", () -> {
      try (var off = Kiln.noGrad()) {
        two.apply(x);
      }
    });
    Timing.report("prelu f+b", () -> {
      x.setGrad(null);
      act.weight().setGrad(null);
      act.apply(x).backward(g);
    });
    Timing.report("prelu*g sum f+b", () -> {
      x.setGrad(null);
      act.weight().setGrad(null);
      act.apply(x).mul(g).sum().backward();
    });
  }

  /** The timing of the other speed scripts: thread CPU time at one thread, else wall time. */
  static final class Timing {
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
      System.out.printf("%-20s median %7.3f  lowest %7.3f ms%n", name, rounds[rounds.length / 2], rounds[0]);
    }

    static long now() {
      return ONE_THREAD ? MX.getCurrentThreadCpuTime() : System.nanoTime();
    }

    static final java.lang.management.ThreadMXBean MX = java.lang.management.ManagementFactory.getThreadMXBean();
    static final boolean ONE_THREAD = "1".equals(System.getProperty("kiln.threads"));
  }
}
