import dev.kiln.runtime.Kiln;
import dev.kiln.runtime.Ops;
import dev.kiln.runtime.Tensor;
import dev.kiln.runtime.cpu.PReluKernels;
import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.util.Arrays;

/**
 * What PReLU's no-grad forward over [64, 64, 32, 32] spends (docs/benchmarks.md, "PReLU's forward: what the fresh output
 * costs"), one thread, thread CPU time, the median and lowest of 9 rounds of 10 calls after 30: the kernel into an array
 * kept between calls, a fresh 16 MB array alone, the two together, a copy of x (which the JVM makes without zeroing) with
 * the kernel in place over it, and {@code Ops.prelu}. Run with {@code -Dkiln.threads=1}, the samples jar on the class path.
 */
public class PReluForwardParts {
  static final ThreadMXBean MX = ManagementFactory.getThreadMXBean();
  static float[] kept;
  static Tensor keptTensor;

  static void report(String name, Runnable step) {
    for (int i = 0; i < 30; i++) {
      step.run();
    }
    double[] ms = new double[9];
    for (int r = 0; r < ms.length; r++) {
      long t = MX.getCurrentThreadCpuTime();
      for (int i = 0; i < 10; i++) {
        step.run();
      }
      ms[r] = (MX.getCurrentThreadCpuTime() - t) / 10e6;
    }
    Arrays.sort(ms);
    System.out.printf("%-34s median %7.3f  lowest %7.3f ms%n", name, ms[ms.length / 2], ms[0]);
  }

  public static void main(String[] args) {
    Kiln.manualSeed(0);
    int n = 64 * 64 * 32 * 32;
    Tensor xt = Tensor.randn(64, 64, 32, 32), w = Tensor.randn(64);
    float[] x = xt.toFloatArray(), ws = w.toFloatArray(), out = new float[n];
    report("kernel into a kept array", () -> PReluKernels.forward(out, 0, x, 0, ws, 0, 64, 64, 1024));
    report("new float[16 MB] alone", () -> kept = new float[n]);
    report("new float[16 MB] + kernel", () -> {
      float[] o = new float[n];
      PReluKernels.forward(o, 0, x, 0, ws, 0, 64, 64, 1024);
      kept = o;
    });
    report("x.clone() + kernel in place", () -> {
      float[] o = x.clone();
      PReluKernels.forward(o, 0, o, 0, ws, 0, 64, 64, 1024);
      kept = o;
    });
    report("Ops.prelu under no grad", () -> {
      try (var off = Kiln.noGrad()) {
        keptTensor = Ops.prelu(xt, w);
      }
    });
  }
}
