import dev.kiln.runtime.Generator;
import dev.kiln.runtime.cpu.ActivationKernels;
import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.util.Arrays;

/**
 * Dropout's mask draws (docs/benchmarks.md, "dropout mask draws"): {@code ActivationKernels.dropoutMask} of the jar on
 * the class path against the loop it replaced ({@code Generator.doubleAt(start, i) < p ? 0 : keep}, copied here so
 * that both run in the same JVM), p = 0.1, over the seq2seq sample's attention weights [64, 4, 8, 8] and a large
 * activation [64, 128, 512], by the calling thread's CPU time: the lowest of 7 rounds of (at least) 40 M draws, after
 * 3 rounds of warm-up, in ns a draw. Run with {@code -Dkiln.threads=1}; {@code scripts/speed/dropout-mask} runs it.
 */
public class DropoutMaskBench {
  static final ThreadMXBean MX = ManagementFactory.getThreadMXBean();

  interface Mask {
    void draw(float[] mask, int n, double p, Generator rng);
  }

  /** The loop dropoutMask ran before (one thread: Parallel.forRange ran it as one part). */
  static void oldLoop(float[] mask, int n, double p, Generator rng) {
    float keep = ActivationKernels.keepScale(p);
    long start = rng.reserve(n);
    for (int i = 0; i < n; i++) {
      mask[i] = Generator.doubleAt(start, i) < p ? 0f : keep;
    }
  }

  static double nsPerDraw(Mask m, int n) {
    float[] mask = new float[n];
    Generator rng = new Generator(1);
    int reps = Math.max(3, 40_000_000 / n);
    long best = Long.MAX_VALUE;
    for (int round = 0; round < 10; round++) {
      long t0 = MX.getCurrentThreadCpuTime();
      for (int r = 0; r < reps; r++) {
        m.draw(mask, n, 0.1, rng);
      }
      long t = MX.getCurrentThreadCpuTime() - t0;
      if (round >= 3) {
        best = Math.min(best, t);
      }
    }
    return best / (double) reps / n;
  }

  public static void main(String[] args) {
    float[] a = new float[100_000], b = new float[100_000];
    oldLoop(a, a.length, 0.1, new Generator(9));
    ActivationKernels.dropoutMask(b, 0, b.length, 0.1, new Generator(9));
    if (!Arrays.equals(a, b)) {
      throw new AssertionError("the kernel's mask differs from the old loop's");
    }
    for (int[] shape : new int[][] {{64, 4, 8, 8}, {64, 128, 512}}) {
      int n = Arrays.stream(shape).reduce(1, (x, y) -> x * y);
      double before = nsPerDraw(DropoutMaskBench::oldLoop, n);
      double after = nsPerDraw((mask, k, p, rng) -> ActivationKernels.dropoutMask(mask, 0, k, p, rng), n);
      System.out.printf("dropoutMask %-15s old loop %.2f ns/draw, kernel %.2f ns/draw, %.2fx%n", Arrays.toString(shape), before,
          after, before / after);
    }
  }
}
