import dev.kiln.runtime.cpu.ActivationKernels;
import dev.kiln.runtime.cpu.NormKernels;
import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.util.Arrays;
import java.util.Random;

/**
 * Layer norm's and GELU's kernels alone (docs/benchmarks.md, "Twenty-fourth session (2026-12-07, cpuspeed)"): layer
 * norm forward, backward (dx, dw, db) and dx alone over 4096 rows of 64 (the ConvNeXt block's), 1024 of 256 and 256 of
 * 768, GELU forward and backward over [16, 16, 16, 256]; arrays made once and reused, thread CPU time, the median of 9
 * rounds of 10 calls after 50, and the lowest; the outputs' hashes, so that two builds can be compared for bits.
 * {@code cpu_kernel_times_peer.py} is PyTorch's side (the whole ops). An optional argument {@code ln} or {@code gelu}
 * keeps those. {@code java -Dkiln.threads=1 -cp JAR scripts/speed/CpuKernelTimes.java [ln|gelu]}.
 */
public class CpuKernelTimes {
  static final ThreadMXBean MX = ManagementFactory.getThreadMXBean();

  public static void main(String[] args) {
    String only = args.length > 0 ? args[0] : "ln,gelu";
    Random rnd = new Random(0);
    for (int[] sh : new int[][] {{4096, 64}, {1024, 256}, {256, 768}}) {
      if (!only.contains("ln")) {
        break;
      }
      int rows = sh[0], inner = sh[1], n = rows * inner;
      float[] x = new float[n], g = new float[n], y = new float[n], dx = new float[n];
      for (int i = 0; i < n; i++) {
        x[i] = (float) (rnd.nextGaussian() + 0.5);
        g[i] = (float) rnd.nextGaussian();
      }
      float[] w = new float[inner], b = new float[inner], dw = new float[inner], db = new float[inner];
      for (int i = 0; i < inner; i++) {
        w[i] = 1 + 0.01f * i;
        b[i] = 0.02f * i;
      }
      double[] mean = new double[rows], rstd = new double[rows];
      String t = rows + "x" + inner;
      time("ln fwd " + t, () -> NormKernels.layerNormForward(y, 0, x, 0, w, 0, b, 0, mean, rstd, rows, inner, 1e-6));
      time("ln bwd " + t, () -> NormKernels.layerNormBackward(dx, 0, dw, 0, db, 0, false, g, 0, x, 0, w, 0, mean, rstd, rows, inner));
      time("ln dx " + t, () -> NormKernels.layerNormBackward(dx, 0, null, 0, null, 0, false, g, 0, x, 0, w, 0, mean, rstd, rows, inner));
      System.out.println("   hash " + Arrays.hashCode(y) + " " + Arrays.hashCode(dx) + " " + Arrays.hashCode(dw) + " "
          + Arrays.hashCode(db) + " " + Arrays.hashCode(mean) + " " + Arrays.hashCode(rstd));
    }
    if (only.contains("gelu")) {
      int n = 16 * 16 * 16 * 256;
      float[] x = new float[n], g = new float[n], y = new float[n], dx = new float[n];
      for (int i = 0; i < n; i++) {
        x[i] = (float) rnd.nextGaussian();
        g[i] = (float) rnd.nextGaussian();
      }
      time("gelu fwd 16x16x16x256", () -> ActivationKernels.geluForward(y, 0, x, 0, n));
      time("gelu bwd 16x16x16x256", () -> ActivationKernels.geluBackward(dx, 0, g, 0, x, 0, n));
      System.out.println("   hash " + Arrays.hashCode(y) + " " + Arrays.hashCode(dx));
    }
  }

  static void time(String name, Runnable f) {
    for (int i = 0; i < 50; i++) {
      f.run();
    }
    double[] rounds = new double[9];
    for (int k = 0; k < rounds.length; k++) {
      long t = MX.getCurrentThreadCpuTime();
      for (int i = 0; i < 10; i++) {
        f.run();
      }
      rounds[k] = (MX.getCurrentThreadCpuTime() - t) / 10e6;
    }
    Arrays.sort(rounds);
    System.out.printf("%-24s median %7.3f lowest %7.3f ms%n", name, rounds[4], rounds[0]);
  }
}
