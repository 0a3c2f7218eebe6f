import dev.kiln.runtime.Generator;
import dev.kiln.runtime.Kiln;
import dev.kiln.runtime.Ops;
import dev.kiln.runtime.Tensor;
import dev.kiln.runtime.cpu.ActivationKernels;
import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.lang.reflect.Method;
import java.util.Arrays;

/**
 * Dropout drawn and applied in one call (docs/benchmarks.md, "Dropout drawn and applied in one call"), p = 0.1, by the
 * calling thread's CPU time, the median of 9 rounds of (at least) 20 M values after 3 of warm-up, in ns a value. The
 * kernels, where the jar has {@code ActivationKernels.dropoutForward}: the two calls ({@code dropoutMask} then {@code
 * applyMask}), the one loop that draws, keeps and multiplies each entry (copied here: measured, not kept), and {@code
 * dropoutForward} keeping the mask and not. Eager {@code Ops.dropout} on any jar (so that the jar
 * before the change times its own path): with grad (the input requires it), without (under no grad), and the forward
 * and backward of {@code sum(dropout(x) * w)} less that of {@code sum(x * w)} (the same op without dropout, timed beside
 * it). Over the seq2seq sample's feed-forward values [64, 8, 128] and a large activation [64, 128, 512]. Run with {@code
 * -Dkiln.threads=1}; {@code scripts/speed/dropout-forward} runs it.
 */
public class DropoutForwardBench {
  static final ThreadMXBean MX = ManagementFactory.getThreadMXBean();

  static double nsPerValue(Runnable r, int n) {
    int reps = Math.max(3, 20_000_000 / n);
    double[] t = new double[9];
    for (int round = 0; round < 12; round++) {
      long t0 = MX.getCurrentThreadCpuTime();
      for (int k = 0; k < reps; k++) {
        r.run();
      }
      if (round >= 3) {
        t[round - 3] = (MX.getCurrentThreadCpuTime() - t0) / (double) reps / n;
      }
    }
    Arrays.sort(t);
    return t[t.length / 2];
  }

  /** Draw, keep and multiply in one loop (one thread: what a single part of dropoutForward would run). */
  static void oneLoop(float[] out, float[] x, float[] mask, int n, double p, Generator rng) {
    int keepBits = Float.floatToRawIntBits(ActivationKernels.keepScale(p));
    long below = Generator.bitsBelow(p);
    long state = Generator.stateAt(rng.reserve(n), 0);
    for (int i = 0; i < n; i++, state = Generator.nextState(state)) {
      long dropped = (Generator.bits(state) - below) >> 63;
      float m = Float.intBitsToFloat(keepBits & ~(int) dropped);
      mask[i] = m;
      out[i] = x[i] * m;
    }
  }

  public static void main(String[] args) throws Exception {
    Method fused = null;
    try {
      fused = ActivationKernels.class.getMethod("dropoutForward", float[].class, int.class, float[].class, int.class, float[].class,
          int.class, int.class, double.class, Generator.class);
    } catch (NoSuchMethodException e) {
      System.out.println("(no dropoutForward in this jar: eager rows only)");
    }
    Method f = fused;
    for (int[] shape : new int[][] {{64, 8, 128}, {64, 128, 512}}) {
      int n = Arrays.stream(shape).reduce(1, (a, b) -> a * b);
      String s = Arrays.toString(shape);
      Generator rng = new Generator(1);
      float[] x = Tensor.randn(n).toFloatArray(), out = new float[n], mask = new float[n];
      if (f != null) {
        double two = nsPerValue(() -> {
          ActivationKernels.dropoutMask(mask, 0, n, 0.1, rng);
          ActivationKernels.applyMask(out, 0, x, 0, mask, 0, n);
        }, n);
        double loop = nsPerValue(() -> oneLoop(out, x, mask, n, 0.1, rng), n);
        double one = nsPerValue(() -> call(f, out, x, mask, n, rng), n);
        double noMask = nsPerValue(() -> call(f, out, x, null, n, rng), n);
        System.out.printf("kernels %-14s two calls %.2f, one loop %.2f, dropoutForward %.2f, without the mask %.2f ns/value%n", s, two,
            loop, one, noMask);
      }
      Tensor xt = Tensor.randn(shape).requiresGrad(true), w = Tensor.randn(shape);
      double grad = nsPerValue(() -> Ops.dropout(xt, 0.1, true), n);
      double free;
      try (var off = Kiln.noGrad()) {
        free = nsPerValue(() -> Ops.dropout(xt, 0.1, true), n);
      }
      double both = nsPerValue(() -> Ops.sum(Ops.mul(Ops.dropout(xt, 0.1, true), w)).backward(), n);
      double without = nsPerValue(() -> Ops.sum(Ops.mul(xt, w)).backward(), n);
      System.out.printf("eager   %-14s forward with grad %.2f, under no grad %.2f, forward and backward %.2f ns/value%n", s, grad,
          free, both - without);
    }
  }

  static void call(Method f, float[] out, float[] x, float[] mask, int n, Generator rng) {
    try {
      f.invoke(null, out, 0, x, 0, mask, 0, n, 0.1, rng);
    } catch (ReflectiveOperationException e) {
      throw new IllegalStateException(e);
    }
  }
}
