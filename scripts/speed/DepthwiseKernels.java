import dev.kiln.runtime.cpu.ConvKernels;
import dev.kiln.runtime.cpu.Conv2dShape;
import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.util.Arrays;
import java.util.Random;

/**
 * The stride-1 depthwise kernels alone (docs/benchmarks.md, "Twenty-fourth session"): {@code ConvKernels.conv2dForward}
 * into a reused output, the input gradient alone, and the weight and bias gradients alone ({@code conv2dBackward}), on
 * ConvNeXt's and MobileNet's shapes (7x7 on [16, 128, 8, 8], [16, 32, 32, 32], [16, 64, 16, 16]; 3x3 on [16, 64, 32,
 * 32]; 5x5 on [16, 64, 16, 16]; bias, "same" padding); thread CPU time, the median of 9 rounds of 10 calls after 30,
 * and the lowest; the outputs' hashes. {@code depthwise_kernels_peer.py} is PyTorch's side (its {@code
 * convolution_backward} with one output mask at a time). An optional argument keeps the shapes whose name contains it.
 * {@code java -Dkiln.threads=1 -cp JAR scripts/speed/DepthwiseKernels.java}.
 */
public class DepthwiseKernels {
  static final ThreadMXBean MX = ManagementFactory.getThreadMXBean();
  public static void main(String[] args) {
    String only = args.length > 0 ? args[0] : "";
    int[][] shapes = {{16, 128, 8, 8, 7}, {16, 32, 32, 32, 7}, {16, 64, 16, 16, 7}, {16, 64, 32, 32, 3}, {16, 64, 16, 16, 5}};
    for (int[] sh : shapes) {
      int n = sh[0], c = sh[1], h = sh[2], wd = sh[3], k = sh[4];
      String tag = k + "x" + k + " [" + n + "," + c + "," + h + "," + wd + "]";
      if (!only.isEmpty() && !tag.contains(only)) continue;
      Conv2dShape s = new Conv2dShape(n, c, h, wd, c, k, k, 1, 1, k / 2, k / 2, 1, 1, c);
      Random r = new Random(1);
      float[] x = rnd(r, n * c * h * wd), w = rnd(r, c * k * k), b = rnd(r, c), g = rnd(r, n * c * h * wd);
      float[] out = new float[n * c * h * wd], dx = new float[out.length], dw = new float[w.length], db = new float[c];
      time(tag + " fwd", () -> ConvKernels.conv2dForward(out, 0, x, 0, w, 0, b, 0, s));
      time(tag + " dx", () -> ConvKernels.conv2dBackward(dx, 0, null, 0, null, 0, false, g, 0, x, 0, w, 0, s));
      time(tag + " dw+db", () -> ConvKernels.conv2dBackward(null, 0, dw, 0, db, 0, false, g, 0, x, 0, w, 0, s));
      System.out.println("   hash " + Arrays.hashCode(out) + " " + Arrays.hashCode(dx) + " " + Arrays.hashCode(dw) + " " + Arrays.hashCode(db));
    }
  }
  static float[] rnd(Random r, int n) { float[] a = new float[n]; for (int i = 0; i < n; i++) a[i] = (float) r.nextGaussian(); return a; }
  static void time(String name, Runnable f) {
    for (int i = 0; i < 30; i++) f.run();
    double[] rounds = new double[9];
    for (int k = 0; k < rounds.length; k++) {
      long t = MX.getCurrentThreadCpuTime();
      for (int i = 0; i < 10; i++) f.run();
      rounds[k] = (MX.getCurrentThreadCpuTime() - t) / 10e6;
    }
    Arrays.sort(rounds);
    System.out.printf("%-32s median %7.3f lowest %7.3f ms%n", name, rounds[4], rounds[0]);
  }
}
