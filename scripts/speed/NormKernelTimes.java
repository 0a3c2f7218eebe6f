import dev.kiln.runtime.cpu.ActivationKernels;
import dev.kiln.runtime.cpu.NormKernels;
import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.util.Arrays;
import java.util.Random;

/**
 * The twenty-third session's kernel timings (docs/benchmarks.md, "Twenty-third session (2026-12-07, normspeed)"): group
 * norm's forward and backward over [32, 64, 32, 32] in 32 groups (GroupNormStep's shape) and in 64 (instance norm's),
 * layer norm's over 1792 rows of 64 and GELU's over [64, 28, 128] (the samples' FashionTransformer's), on arrays made
 * once and reused; thread CPU time, the lowest of 8 rounds of 20 calls after 30, three times. Prints hashes of the
 * outputs, so that two builds can be compared for bits. Needs only the runtime's classes and OpenBLAS's jars:
 *
 * <pre>
 * javac -cp runtime/target/classes -d DIR scripts/speed/NormKernelTimes.java
 * java -Dkiln.threads=1 -cp runtime/target/classes:JAVACPP_JARS:DIR NormKernelTimes [gn,ln,gelu]
 * </pre>
 */
public class NormKernelTimes {
  private static final ThreadMXBean MX = ManagementFactory.getThreadMXBean();

  public static void main(String[] args) {
    Random rnd = new Random(0);
    int n = 32, c = 64, groups = 32, l = 1024, size = n * c * l;
    float[] x = new float[size], g = new float[size], y = new float[size], dx = new float[size];
    for (int i = 0; i < size; i++) {
      x[i] = (float) rnd.nextGaussian();
      g[i] = (float) rnd.nextGaussian();
    }
    float[] w = new float[c], b = new float[c], dw = new float[c], db = new float[c];
    for (int i = 0; i < c; i++) {
      w[i] = 1 + 0.1f * i;
      b[i] = 0.01f * i;
    }
    double[] mean = new double[n * c], rstd = new double[n * c];
    int rows = 1792, inner = 64, m = 64 * 28 * 128;
    float[] lx = Arrays.copyOf(x, rows * inner), lg = Arrays.copyOf(g, rows * inner), ly = new float[rows * inner];
    float[] ldx = new float[rows * inner], lw = Arrays.copyOf(w, inner), lb = Arrays.copyOf(b, inner);
    float[] ldw = new float[inner], ldb = new float[inner];
    double[] lm = new double[rows], lr = new double[rows];
    float[] gx = Arrays.copyOf(x, m), gg = Arrays.copyOf(g, m), gy = new float[m], gdx = new float[m];
    String only = args.length > 0 ? args[0] : "gn,ln,gelu";
    for (int round = 0; round < 3; round++) {
      if (only.contains("gn")) {
        time("group norm forward", () -> NormKernels.groupNormForward(y, 0, x, 0, w, 0, b, 0, mean, rstd, n, c, groups, l, 1e-5));
        time("group norm backward", () -> NormKernels.groupNormBackward(dx, 0, dw, 0, db, 0, false, g, 0, x, 0, w, 0, mean, rstd, n, c,
            groups, l));
        time("instance norm forward", () -> NormKernels.groupNormForward(y, 0, x, 0, w, 0, b, 0, mean, rstd, n, c, c, l, 1e-5));
      }
      if (only.contains("ln")) {
        time("layer norm forward", () -> NormKernels.layerNormForward(ly, 0, lx, 0, lw, 0, lb, 0, lm, lr, rows, inner, 1e-5));
        time("layer norm backward", () -> NormKernels.layerNormBackward(ldx, 0, ldw, 0, ldb, 0, false, lg, 0, lx, 0, lw, 0, lm, lr, rows,
            inner));
      }
      if (only.contains("gelu")) {
        time("gelu forward", () -> ActivationKernels.geluForward(gy, 0, gx, 0, m));
        time("gelu backward", () -> ActivationKernels.geluBackward(gdx, 0, gg, 0, gx, 0, m));
      }
    }
    System.out.println("hashes: group norm (last: instance norm's y) " + Arrays.hashCode(y) + " " + Arrays.hashCode(dx) + " "
        + Arrays.hashCode(dw) + " " + Arrays.hashCode(db) + "; layer norm " + Arrays.hashCode(ly) + " " + Arrays.hashCode(ldx)
        + " " + Arrays.hashCode(ldw) + " " + Arrays.hashCode(ldb) + "; gelu " + Arrays.hashCode(gy) + " " + Arrays.hashCode(gdx));
  }

  private static void time(String name, Runnable r) {
    for (int i = 0; i < 30; i++) {
      r.run();
    }
    double best = Double.MAX_VALUE;
    for (int k = 0; k < 8; k++) {
      long t = MX.getCurrentThreadCpuTime();
      for (int i = 0; i < 20; i++) {
        r.run();
      }
      best = Math.min(best, (MX.getCurrentThreadCpuTime() - t) / 20e6);
    }
    System.out.printf("%-24s %.3f ms%n", name, best);
  }
}
