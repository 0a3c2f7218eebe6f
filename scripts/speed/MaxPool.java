import dev.kiln.runtime.cpu.ConvKernels;
import dev.kiln.runtime.cpu.NormKernels;
import dev.kiln.runtime.cpu.Pool2dShape;
import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.util.Random;

/**
 * The twentieth session's max-pooling kernels (docs/benchmarks.md, "Twentieth session: max pooling"): 2x2 windows at
 * stride 2 on the seed CNN's first block map [64, 32, 28, 28], the plain pooling, the fused batch norm + ReLU +
 * pooling, and both backwards; thread CPU time of the calling thread, 20 calls a round after 200 of warm-up, the
 * lowest round of 7. Run with {@code -Dkiln.threads=1}:
 *   javac -cp JAR -d /tmp/mp scripts/speed/MaxPool.java && java -Dkiln.threads=1 -cp JAR:/tmp/mp MaxPool
 */
public class MaxPool {
  private static final ThreadMXBean MX = ManagementFactory.getThreadMXBean();

  public static void main(String[] args) {
    int n = 64, c = 32, h = 28, w = 28;
    Pool2dShape s = new Pool2dShape(n, c, h, w, 2, 2, 2, 2, 0, 0, false);
    Random r = new Random(0);
    float[] x = new float[n * c * h * w];
    float[] relu = new float[x.length];
    for (int i = 0; i < x.length; i++) {
      x[i] = (float) r.nextGaussian();
      relu[i] = Math.max(x[i], 0f);
    }
    float[] mean = new float[c], var = new float[c], weight = new float[c], bias = new float[c];
    for (int i = 0; i < c; i++) {
      mean[i] = 0.1f * i / c;
      var[i] = 1 + 0.5f * i / c;
      weight[i] = 1 + 0.01f * i;
      bias[i] = -0.01f * i;
    }
    int outLen = n * c * (h / 2) * (w / 2);
    float[] out = new float[outLen], g = new float[outLen], dx = new float[x.length];
    for (int i = 0; i < outLen; i++) {
      g[i] = (float) r.nextGaussian();
    }
    int[] argmax = new int[outLen];
    time("max pool 2x2 forward (noise)", () -> ConvKernels.maxPool2dForward(out, 0, argmax, x, 0, s));
    time("max pool 2x2 forward (relu'd)", () -> ConvKernels.maxPool2dForward(out, 0, argmax, relu, 0, s));
    time("max pool 2x2 backward", () -> ConvKernels.maxPool2dBackward(dx, 0, g, 0, argmax, s));
    time("bn+relu+pool forward", () -> NormKernels.batchNormReluMaxPool2x2(
        out, 0, argmax, x, 0, mean, 0, var, 0, weight, 0, bias, 0, 1e-5, s));
    time("pool+relu backward", () -> ConvKernels.maxPool2dReluBackward(dx, 0, g, 0, out, 0, argmax, s));
  }

  private static void time(String name, Runnable r) {
    for (int i = 0; i < 200; i++) {
      r.run();
    }
    double best = Double.MAX_VALUE;
    for (int round = 0; round < 7; round++) {
      long t0 = MX.getCurrentThreadCpuTime();
      for (int i = 0; i < 20; i++) {
        r.run();
      }
      best = Math.min(best, (MX.getCurrentThreadCpuTime() - t0) / 20 / 1e6);
    }
    System.out.printf("%-32s %7.3f ms%n", name, best);
  }
}
