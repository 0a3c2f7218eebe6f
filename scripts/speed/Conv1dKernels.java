import dev.kiln.runtime.cpu.Conv2dShape;
import dev.kiln.runtime.cpu.ConvKernels;
import dev.kiln.runtime.cpu.Pool2dShape;
import java.util.Random;

/**
 * The 1-d CNN's layers alone (docs/benchmarks.md, "1-d CNNs' speed"): each convolution of {@code Conv1dStep} as the
 * kernels run it, over the one-row map {@code [64, C, 1, L]} (RowConv) and over the transposed map {@code [64, C, L, 1]}
 * with a k x 1 window (the Java columns' path, what the one-row map took before), forward and each gradient; then
 * {@code MaxPool1d(2)} over [64, 32, 128] with and without the argmax. Thread CPU time, the lowest of 9 rounds of 10
 * calls after 20, ms. {@code java -Dkiln.threads=1 -cp CLASSPATH scripts/speed/Conv1dKernels.java}.
 */
public class Conv1dKernels {
  static final java.lang.management.ThreadMXBean MX = java.lang.management.ManagementFactory.getThreadMXBean();

  public static void main(String[] args) {
    Random g = new Random(1);
    int[][] layers = {{16, 32, 5, 128, 2}, {32, 64, 3, 64, 1}, {64, 64, 3, 32, 1}}; // inC, outC, k, L, padding
    for (int[] l : layers) {
      int c = l[0], o = l[1], k = l[2], len = l[3], pad = l[4], n = 64;
      float[] x = randn(n * c * len, g), w = randn(o * c * k, g), b = randn(o, g), dy = randn(n * o * len, g);
      float[] y = new float[n * o * len], dx = new float[x.length], dw = new float[w.length], db = new float[o];
      Conv2dShape row = new Conv2dShape(n, c, 1, len, o, 1, k, 1, 1, 0, pad);
      Conv2dShape column = new Conv2dShape(n, c, len, 1, o, k, 1, 1, 1, pad, 0);
      for (Conv2dShape s : new Conv2dShape[] {row, column}) {
        System.out.printf("%d -> %d, k %d, L %d, %-6s forward %.3f  input gradient %.3f  weight and bias %.3f%n", c, o, k, len,
            s == row ? "1 x k" : "k x 1",
            time(() -> ConvKernels.conv2dForward(y, 0, x, 0, w, 0, b, 0, s)),
            time(() -> ConvKernels.conv2dBackward(dx, 0, null, 0, null, 0, false, dy, 0, x, 0, w, 0, s)),
            time(() -> ConvKernels.conv2dBackward(null, 0, dw, 0, db, 0, false, dy, 0, x, 0, w, 0, s)));
      }
    }
    Pool2dShape pool = new Pool2dShape(64, 32, 1, 128, 1, 2, 1, 2, 0, 0, false);
    float[] px = randn(64 * 32 * 128, g), po = new float[64 * 32 * 64];
    int[] argmax = new int[po.length];
    System.out.printf("MaxPool1d(2) over [64, 32, 128]: with the argmax %.3f  without %.3f%n",
        time(() -> ConvKernels.maxPool2dForward(po, 0, argmax, px, 0, pool)),
        time(() -> ConvKernels.maxPool2dForward(po, 0, null, px, 0, pool)));
  }

  static double time(Runnable r) {
    for (int i = 0; i < 20; i++) {
      r.run();
    }
    double best = Double.MAX_VALUE;
    for (int round = 0; round < 9; round++) {
      long t = MX.getCurrentThreadCpuTime();
      for (int i = 0; i < 10; i++) {
        r.run();
      }
      best = Math.min(best, (MX.getCurrentThreadCpuTime() - t) / 10e6);
    }
    return best;
  }

  static float[] randn(int n, Random g) {
    float[] a = new float[n];
    for (int i = 0; i < n; i++) {
      a[i] = (float) g.nextGaussian();
    }
    return a;
  }
}
